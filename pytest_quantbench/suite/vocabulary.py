"""The words a suite may use that depend on what the package can measure: tasks, their metrics, backends.

Plain data on purpose: the run's `registry.Registry` (extended through hooks) builds a `Vocabulary`, and
the schema checks a suite against whichever one it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pytest_quantbench.suite.records import QuantConfig
from pytest_quantbench.suite.thresholds import DEFAULT_MIN_AGREEMENT

# `datasets` builders that read local files: never need the hub.
PACKAGED_BUILDERS = {"csv", "json", "parquet", "text", "arrow", "imagefolder", "audiofolder", "webdataset"}
# Node exclusion presets, resolved by optimum's quantization preprocessor (also read by the build and the ids).
PRESETS = ("layernorm", "gelu", "residual", "gather", "softmax")


@dataclass(frozen=True)
class TaskVocabulary:
    """What a suite of one task may gate on, and what it reads from the dataset when the file does not say."""

    metrics: tuple[str, ...]
    default_metrics: tuple[str, ...]
    default_data_keys: Mapping[str, str]
    default_ref_keys: tuple[str, ...]
    timed_by_length: bool = True  # its inputs have a length to time at (`time.input_lengths`)
    decodes: bool = False  # a decoder with a key/value cache: its latency cases time `time.phases`
    # the fidelity gates (key, min) of a suite of this task that names no metric and no thresholds
    default_gates: tuple[tuple[str, float], ...] = (("agreement", DEFAULT_MIN_AGREEMENT),)
    # the fidelity gates its task measures (`Task.fidelity`): the only ones a suite of this task may give
    fidelity: tuple[str, ...] = ("agreement", "cosine")
    # (metric, the data key a suite scoring it must give, what that column is)
    metric_keys: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class QuantizerVocabulary:
    """A quantizer other than a backend's own (`quantizer:`): the approaches it runs, the settings it leaves."""

    approaches: tuple[str, ...]
    ignores: tuple[str, ...] = ()
    extra: str | None = None  # the optional extra that installs it


@dataclass(frozen=True)
class BackendVocabulary:
    """What a suite may ask of one `framework:` value."""

    approaches: tuple[str, ...]  # the quantization approaches it runs
    description: str = ""
    extra: str | None = None  # the optional extra (`extras.EXTRAS`) that installs its engine; None: always there
    # the settings its configs leave unread (a section's field dotted, `calibration.method`; a section alone: all
    # of it): written in a config's own grid they are refused, in `fixed` they apply where another backend reads
    ignores: tuple[str, ...] = ()
    quantizer: str = ""  # the name of its own quantizer (`quantizer:` naming it is the default)
    quantizers: Mapping[str, QuantizerVocabulary] = field(default_factory=dict)  # the others it takes

    def other_quantizer(self, config: QuantConfig) -> QuantizerVocabulary | None:
        """The quantizer a config names, when it is not the backend's own (None: its own)."""
        return self.quantizers.get(config.quantizer or "")

    def runs(self, config: QuantConfig) -> tuple[str, ...]:
        """The approaches the config's quantizer runs."""
        other = self.other_quantizer(config)
        return self.approaches if other is None else other.approaches

    def ignores_setting(self, setting: str, config: QuantConfig) -> bool:
        """Whether a config of this backend (and its quantizer) leaves `setting` unread."""
        other = self.other_quantizer(config)
        ignores = self.ignores if other is None else other.ignores
        return setting in ignores or setting.split(".")[0] in ignores


CLASSIFICATION_METRICS = ("accuracy", "f1", "precision", "recall", "matthews_correlation")
SEQEVAL_METRICS = ("precision", "recall", "f1", "accuracy")
# Sentence embeddings have no labels to score: a suite gates on how close the int8 vectors stay to the fp32
# ones (mean cosine, top-10 neighbours kept), unless it says otherwise.
EMBEDDING_GATES = (("cosine", 0.98), ("neighbours", 0.7))
EMBEDDING_FIDELITY = ("cosine", "cosine_p01", "neighbours", "similarity_spearman")
# Where the data has labels: sentence pairs against gold scores, queries against their relevant documents
# (`tasks/embedding_scores.py`); each needs the data key that says what a row is.
EMBEDDING_METRICS = ("spearman", "recall@1", "recall@5", "recall@10", "ndcg@10", "mrr@10")
EMBEDDING_METRIC_KEYS = (
    ("spearman", "secondary", "the second text of each sentence pair"),
    *((name, "id", "the column naming each corpus document") for name in EMBEDDING_METRICS[1:]),
)
EMBEDDINGS = TaskVocabulary(
    EMBEDDING_METRICS, (), {"primary": "sentence"}, (), default_gates=EMBEDDING_GATES, fidelity=EMBEDDING_FIDELITY,
    metric_keys=EMBEDDING_METRIC_KEYS,
)  # fmt: skip
LANGUAGE_MODEL_METRICS = ("perplexity", "nll")
# Metrics whose gate may cap quantized / original (`max_ratio`): lower-is-better scores where "times worse" is
# what a reader asks (a perplexity 1.05 times fp32's). Others would read a ratio the wrong way round.
RATIO_CAPPED_METRICS = ("perplexity",)
# A language model without references (`ref_keys: []`) gates on choosing the same next token at 9 positions in
# 10: int8 flips near-ties of the next-token distribution, so 0.99 would fail sound models.
LANGUAGE_MODEL_GATES = (("top1_agreement", 0.9),)
# The words of the built-in tasks and backends: their modules (`tasks/`, `runtimes/`) take them from here,
# so the suite stage knows them without importing the later stages.
BUILTIN_TASKS: dict[str, TaskVocabulary] = {
    "text-classification": TaskVocabulary(CLASSIFICATION_METRICS, ("accuracy",), {"primary": "sentence"}, ("label",)),
    "image-classification": TaskVocabulary(
        CLASSIFICATION_METRICS, ("accuracy",), {"primary": "image"}, ("label",), timed_by_length=False
    ),
    "token-classification": TaskVocabulary(SEQEVAL_METRICS, SEQEVAL_METRICS, {"primary": "sentence"}, ("ner_tags",)),
    # `sentence-similarity` is the hub's other name for the same models
    "feature-extraction": EMBEDDINGS,
    "sentence-similarity": EMBEDDINGS,
    # a language model is scored on its own text: the reference column is the text column
    "text-generation": TaskVocabulary(
        LANGUAGE_MODEL_METRICS,
        ("perplexity",),
        {"primary": "text"},
        ("text",),
        default_gates=LANGUAGE_MODEL_GATES,
        fidelity=("top1_agreement", "kl_divergence", "kl_divergence_p99", "generation_agreement", "generation_prefix"),
        decodes=True,
    ),
}
# What each built-in backend leaves unread (`BackendVocabulary.ignores`): ONNX Runtime's quantizer and session
# settings, NNCF's, and the export's.
ORT_QUANTIZER_SETTINGS = (
    "operators_to_quantize", "per_channel", "reduce_range", "weights_dtype", "activations_dtype",
    "weights_symmetric", "activations_symmetric", "format", "fp32_outputs", "calibration.method",
    "calibration.percentile", "weight_only.accuracy_level", "weight_only.algorithm",
)  # fmt: skip
ORT_SESSION_SETTINGS = (
    "framework_args.optimization_level", "framework_args.quantized_optimization_level",
    "framework_args.x64_quant_precision",
)  # fmt: skip
BUILTIN_BACKENDS: dict[str, BackendVocabulary] = {
    "onnxruntime": BackendVocabulary(
        ("dynamic", "static", "weight_only", "fp16"),
        "ONNX Runtime on the optimum export",
        ignores=("nncf",),
        quantizer="onnxruntime",
        # NNCF quantizing the ONNX export (QDQ int8, weight compression) for ONNX Runtime to run; its accuracy
        # control is OpenVINO's
        quantizers={
            "nncf": QuantizerVocabulary(
                ("static", "weight_only"), (*ORT_QUANTIZER_SETTINGS, "nncf.accuracy_control"), extra="openvino"
            )
        },
    ),
    # torch's quantize_dynamic reads the operators (as Linear layers), per_channel and the thread count
    "pytorch": BackendVocabulary(
        ("dynamic",),
        "torch's dynamic int8 of the transformers model",
        ignores=(
            *(s for s in ORT_QUANTIZER_SETTINGS if s not in ("operators_to_quantize", "per_channel")),
            *ORT_SESSION_SETTINGS,
            "node_exclusion",
            "nodes_to_exclude",
            "calibration",
            "weight_only",
            "nncf",
            "framework_args.opset",
        ),
        quantizer="pytorch",
    ),
    # OpenVINO has no dynamic int8 of its own: NNCF's static int8 and weight compression
    "openvino": BackendVocabulary(
        ("static", "weight_only"),
        "OpenVINO on the optimum export, quantized by NNCF",
        extra="openvino",
        ignores=(*ORT_QUANTIZER_SETTINGS, *ORT_SESSION_SETTINGS),
        quantizer="nncf",
    ),
}


@dataclass(frozen=True)
class Vocabulary:
    """The tasks a suite may name, each with its metrics and dataset defaults, and the backends."""

    tasks: Mapping[str, TaskVocabulary]
    backends: Mapping[str, BackendVocabulary] = field(default_factory=lambda: BUILTIN_BACKENDS)

    @classmethod
    def default(cls) -> Vocabulary:
        """What the package measures itself: the built-in tasks and backends."""
        return cls(BUILTIN_TASKS, BUILTIN_BACKENDS)
