"""Stage 3: tasks: one module per task behind the generic `Task` interface (`base.py`), looked up by the suite's
`task:` name; the classifiers share `classification.ClassifierTask`; sentence embeddings are `embedding.py`.

`BUILTIN` lists the package's own; users add a task from a `conftest.py` through the
`pytest_quantbench_add_tasks` hook (`Registry.add_task`), and metrics through `pytest_quantbench_add_metrics`
(`Registry.add_metric`, saying which way is better).
"""

from __future__ import annotations

from pytest_quantbench.tasks.base import Encoded, MetricFn, Task
from pytest_quantbench.tasks.classification import ClassifierTask
from pytest_quantbench.tasks.embedding import FeatureExtraction, SentenceSimilarity
from pytest_quantbench.tasks.evidence import Evidence
from pytest_quantbench.tasks.image_classification import ImageClassification
from pytest_quantbench.tasks.text_classification import TextClassification
from pytest_quantbench.tasks.text_generation import TextGeneration
from pytest_quantbench.tasks.token_classification import TokenClassification

BUILTIN: tuple[Task, ...] = (
    TextClassification(), ImageClassification(), TokenClassification(), FeatureExtraction(), SentenceSimilarity(),
    TextGeneration(),
)  # fmt: skip

__all__ = ["BUILTIN", "ClassifierTask", "Encoded", "Evidence", "MetricFn", "Task"]
