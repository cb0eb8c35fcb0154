"""Sentence embeddings (`task: feature-extraction`, also `sentence-similarity`): the vector a user gets.

The model is the bare encoder (optimum's `feature-extraction` export: `last_hidden_state` first); the task pools
its token vectors as the folder says (`pooling.py`: sentence-transformers' `modules.json` and `1_Pooling`, else
mean pooling) and normalises them when a `Normalize` module is listed, so the evidence kept per text is its
sentence vector. Without labels, the fidelity measures (`embedding_fidelity.py`) compare the int8 vectors with
the fp32 ones, per text and as neighbours among the eval texts. Where the data has labels, each model is also
scored on its own vectors (`embedding_scores.py`): sentence pairs (`data_keys.secondary`, each pair one sample:
its prediction is the cosine of its two texts) against gold scores, or a corpus and its queries (`data_keys.id`
names each document) against their relevant documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_quantbench.records import MetricResult
from pytest_quantbench.suite import DatasetSpec
from pytest_quantbench.suite.thresholds import gate_count
from pytest_quantbench.suite.vocabulary import BUILTIN_TASKS
from pytest_quantbench.tasks import embedding_fidelity as fidelity
from pytest_quantbench.tasks import embedding_scores as scores
from pytest_quantbench.tasks.base import Encoded, MetricFn, Task
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
    """What reading one sample's sentence vector back needs: its attention mask, and the pooling; a sentence
    pair's second text's mask (its row is the batch's rows later); a corpus row's id (retrieval)."""

    mask: Any
    pooling: Pooling
    second: Any = None
    key: Any = None


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
    metric_infos = scores.INFOS

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
        """A batch of samples, as texts: each pair's first texts, then their second texts (one sample each)."""
        import numpy as np

        count, pairs, keys = len(rows[spec.primary]), spec.secondary, dict(spec.data_keys).get("id")
        texts = list(rows[spec.primary]) + (list(rows[pairs]) if pairs else [])
        enc = processor.tokenizer(
            texts, padding=padding, truncation=True, max_length=max_length or spec.max_length, return_tensors="np"
        )
        inputs = {k: np.asarray(v, dtype=np.int64) for k, v in enc.items()}
        masks = inputs.get("attention_mask", np.ones_like(inputs["input_ids"]))
        return Encoded(inputs, [
            Pooled(masks[i], processor.pooling, masks[count + i] if pairs else None, rows[keys][i] if keys else None)
            for i in range(count)
        ])  # fmt: skip

    def lengths(self, processor: Any, spec: DatasetSpec, rows: dict[str, list]) -> list[int]:
        columns = [spec.primary, *([spec.secondary] if spec.secondary else [])]
        found = [
            processor.tokenizer(rows[c], truncation=True, max_length=spec.max_length)["input_ids"] for c in columns
        ]
        return [max(map(len, texts)) for texts in zip(*found, strict=True)]

    def vectors(self, logits: Any, alignments: list[Any]) -> Any:
        """One batch's sentence vectors from its token vectors (the first output: `last_hidden_state`): one per
        sample, a pair's two stacked (samples, 2, dimensions)."""
        import numpy as np

        if not alignments:
            return np.zeros((0, 0), dtype=np.float32)
        pairs = alignments[0].second is not None
        masks = [row.mask for row in alignments] + ([row.second for row in alignments] if pairs else [])
        pooled = alignments[0].pooling(logits, np.stack(masks))
        return np.stack([pooled[: len(alignments)], pooled[len(alignments) :]], axis=1) if pairs else pooled

    @staticmethod
    def answers(vectors: Any, alignments: list[Any]) -> list[Any]:
        """Per sample what the labels score: a pair's cosine, a retrieval row's id and vector, else nothing."""
        if alignments and alignments[0].second is not None:
            return [float(v) for v in fidelity.cosines(vectors[:, 0], vectors[:, 1])]
        if alignments and alignments[0].key is not None:
            return [[row.key, vector.tolist()] for row, vector in zip(alignments, vectors, strict=True)]
        return [None] * len(alignments)

    def predict(self, logits: Any, alignments: list[Any], references: list[Any], id2label: dict[int, str]) -> list:
        return self.answers(self.vectors(logits, alignments), alignments)

    def evidence(self, logits: Any, alignments: list[Any], references: list[Any], id2label: dict[int, str]) -> Evidence:
        vectors = self.vectors(logits, alignments)
        return Evidence(self.answers(vectors, alignments), {EMBEDDINGS: vectors})

    def check_references(
        self, values: list[Any], label_names: list[str] | None, id2label: dict[int, str]
    ) -> str | None:
        return scores.check(values)

    def score(
        self, metrics: tuple[str, ...], predictions: list[Any], references: list[Any], metric: Callable[[str], MetricFn]
    ) -> dict[str, float]:
        """`spearman` of the pairs' cosines against the gold scores; the retrieval metrics of the queries."""
        return {
            name: scores.spearman(predictions, references)
            if name == scores.SPEARMAN
            else scores.retrieval(name, predictions, references)
            for name in metrics
        }

    def sample_counts(self, metric: str, predictions: list[Any], references: list[Any]) -> tuple[Any, Any] | None:
        """A retrieval metric per query (documents count for nothing): its bootstrap resamples queries."""
        return scores.per_row(metric, predictions, references) if metric in scores.PER_QUERY else None

    def fidelity(
        self, name: str, original: Evidence, quantized: Evidence, paired: Mapping[str, Any]
    ) -> MetricResult | None:
        """`cosine`, `cosine_p01`, `neighbours@k` and `similarity_spearman` of the int8 vectors to the fp32 ones."""
        measure = MEASURES.get(name.split("@")[0])  # `neighbours@20`: the suite checked the count
        if measure is None:
            return None
        return measure(name, texts(original.arrays[EMBEDDINGS]), texts(quantized.arrays[EMBEDDINGS]))


def texts(vectors: Any) -> Any:
    """One vector per text: a pair's two in turn."""
    return vectors.reshape(-1, vectors.shape[-1])


class SentenceSimilarity(FeatureExtraction):
    """The hub's other name for the same models."""

    name = "sentence-similarity"
    vocabulary = BUILTIN_TASKS[name]
