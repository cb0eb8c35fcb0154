"""Sentence embeddings (`task: feature-extraction`, also `sentence-similarity`): the vector a user gets.

The model is the bare encoder (optimum's `feature-extraction` export: `last_hidden_state` first); the task pools
its token vectors as the folder says (`pooling.py`: sentence-transformers' `modules.json` and `1_Pooling`, else
mean pooling) and normalises them when a `Normalize` module is listed, so the evidence kept per text is its
sentence vector. There are no labels: the fidelity measures (`embedding_fidelity.py`) compare the int8 vectors
with the fp32 ones, per text and as neighbours among the eval texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_quantbench.records import MetricResult
from pytest_quantbench.suite import DatasetSpec
from pytest_quantbench.suite.records import gate_count
from pytest_quantbench.suite.vocabulary import BUILTIN_TASKS
from pytest_quantbench.tasks import embedding_fidelity as fidelity
from pytest_quantbench.tasks.base import Encoded, Task
from pytest_quantbench.tasks.evidence import Evidence
from pytest_quantbench.tasks.pooling import Pooling, PoolingProblem, read_pooling

EMBEDDINGS = "embeddings"  # the evidence array: one sentence vector per text
# The fidelity measures by gate key (a counted key, `neighbours@20`, by its base name).
MEASURES = {
    "cosine": lambda key, o, q: fidelity.cosine(o, q),
    "cosine_p01": lambda key, o, q: fidelity.cosine_p01(o, q),
    "neighbours": lambda key, o, q: fidelity.neighbours(key, o, q, gate_count(key)),
    "similarity_spearman": lambda key, o, q: fidelity.similarity_spearman(o, q),
}


@dataclass(frozen=True)
class EmbeddingProcessor:
    """The model's tokenizer and how its token vectors are pooled."""

    tokenizer: Any
    pooling: Pooling


@dataclass(frozen=True)
class Pooled:
    """What reading one text's sentence vector back needs: its attention mask, and the pooling."""

    mask: Any
    pooling: Pooling


class PooledSession:
    """A session whose run also pools (and normalises) its token vectors, as a user's call to embed does: what
    the latency cases time."""

    def __init__(self, session: Any, pooling: Pooling) -> None:
        self.session, self.pooling = session, pooling

    def get_inputs(self) -> Any:
        return self.session.get_inputs()

    def run(self, output_names: Any, feed: dict[str, Any]) -> list[Any]:
        import numpy as np

        tokens = self.session.run(output_names, feed)[0]
        mask = feed.get("attention_mask")
        return [self.pooling(tokens, np.ones(tokens.shape[:2]) if mask is None else mask)]


class FeatureExtraction(Task):
    name = "feature-extraction"
    vocabulary = BUILTIN_TASKS[name]
    export_task = "feature-extraction"
    model_class = "AutoModel"
    sort_by_length = True
    processor_files = ("tokenizer.json", "vocab.txt", "vocab.json", "*.model")

    def check_model(self, model_dir: Path) -> str | None:
        """A sentence-transformers file that does not say what it should (`modules.json`, the pooling config)."""
        try:
            read_pooling(model_dir)
        except PoolingProblem as exc:
            return str(exc)
        return None

    def describe_model(self, model_dir: Path) -> str:
        return f"sentence vectors by {read_pooling(model_dir).describe()}"

    def load_processor(self, model_dir: Path) -> EmbeddingProcessor:
        return EmbeddingProcessor(super().load_processor(model_dir), read_pooling(model_dir))

    def timed(self, session: Any, processor: Any) -> PooledSession:
        """The encoder and the pooling: the vector a user gets is what is timed."""
        return PooledSession(session, processor.pooling)

    def check_input(self, value: Any) -> str | None:
        if value is None:
            return "is null"
        return None if isinstance(value, str) else f"is {type(value).__name__} {value!r}, not text"

    def encode(
        self, processor: Any, spec: DatasetSpec, rows: dict[str, list], padding: bool | str = True,
        max_length: int | None = None,
    ) -> Encoded:  # fmt: skip
        import numpy as np

        enc = processor.tokenizer(
            rows[spec.primary], padding=padding, truncation=True, max_length=max_length or spec.max_length,
            return_tensors="np",
        )  # fmt: skip
        inputs = {k: np.asarray(v, dtype=np.int64) for k, v in enc.items()}
        masks = inputs.get("attention_mask", np.ones_like(inputs["input_ids"]))
        return Encoded(inputs, [Pooled(mask, processor.pooling) for mask in masks])

    def lengths(self, processor: Any, spec: DatasetSpec, rows: dict[str, list]) -> list[int]:
        enc = processor.tokenizer(rows[spec.primary], truncation=True, max_length=spec.max_length)
        return [len(ids) for ids in enc["input_ids"]]

    def vectors(self, logits: Any, alignments: list[Any]) -> Any:
        """One batch's sentence vectors from its token vectors (the first output: `last_hidden_state`)."""
        import numpy as np

        if not alignments:
            return np.zeros((0, 0), dtype=np.float32)
        masks = np.stack([row.mask for row in alignments])
        return alignments[0].pooling(logits, masks)

    def predict(self, logits: Any, alignments: list[Any], references: list[Any], id2label: dict[int, str]) -> list:
        """No answer to score: each text's vector is its evidence."""
        return [None] * len(alignments)

    def evidence(self, logits: Any, alignments: list[Any], references: list[Any], id2label: dict[int, str]) -> Evidence:
        predictions = self.predict(logits, alignments, references, id2label)
        return Evidence(predictions, {EMBEDDINGS: self.vectors(logits, alignments)})

    def fidelity(
        self, name: str, original: Evidence, quantized: Evidence, paired: Mapping[str, Any]
    ) -> MetricResult | None:
        """`cosine`, `cosine_p01`, `neighbours@k` and `similarity_spearman` of the int8 vectors to the fp32 ones."""
        measure = MEASURES.get(name.split("@")[0])  # `neighbours@20`: the suite checked the count
        if measure is None:
            return None
        return measure(name, original.arrays[EMBEDDINGS], quantized.arrays[EMBEDDINGS])


class SentenceSimilarity(FeatureExtraction):
    """The hub's other name for the same models."""

    name = "sentence-similarity"
    vocabulary = BUILTIN_TASKS[name]
