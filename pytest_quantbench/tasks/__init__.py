"""Tasks: one module per task behind the `Task` interface (`base.py`), looked up by the suite's `task:` name.

Users add a task from a `conftest.py` through the `pytest_quantbench_add_tasks` hook (or by calling
`register` from plain Python).
"""

from __future__ import annotations

from pytest_quantbench.tasks.base import Encoded, MetricFn, Task
from pytest_quantbench.tasks.image_classification import ImageClassification
from pytest_quantbench.tasks.text_classification import TextClassification
from pytest_quantbench.tasks.token_classification import TokenClassification

BUILTIN: tuple[Task, ...] = (TextClassification(), ImageClassification(), TokenClassification())

__all__ = ["BUILTIN", "Encoded", "MetricFn", "Task"]
