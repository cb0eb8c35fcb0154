"""What a task is: how it encodes rows, what evidence it keeps of a model's outputs, how it scores it, what
fidelity it measures and what a model that knows nothing scores.

A task is one module with one `Task` subclass, listed in `tasks.BUILTIN` (a user's is added through the
`pytest_quantbench_add_tasks` hook, `Registry.add_task`); the suite's `task:` names it. Nothing outside a
task module asks which task it is: data preparation, evaluation, statistics and gates call these methods.
`Task` itself assumes no labels: the classifiers' shared behaviour (label ids, argmax, majority-label
chance, flips, agreement and cosine) is `tasks.classification.ClassifierTask`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pytest_quantbench.records import ChangedAnswer, MetricInfo, MetricResult, TensorSpec
from pytest_quantbench.suite import DatasetSpec, TaskVocabulary
from pytest_quantbench.tasks.evidence import Evidence

# A metric as `score` uses it: predictions and references in, one number out.
MetricFn = Callable[[list[Any], list[Any]], float]
Mapper = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]  # `map`, or one that runs in a pool
CHANGED_ANSWERS = 5  # the inputs whose answer changed a case keeps: a few to look at, small in the run's JSON


@dataclass
class Encoded:
    """Model inputs of some rows (name -> numpy array) and, per row, what `predict` needs to read the outputs
    back (token classification: the position of each word's first sub-token)."""

    inputs: dict[str, Any]
    alignments: list[Any] = field(default_factory=list)
    # per row, what `score` compares its predictions with, when the task reads it from the encoding rather than
    # from a reference column (a language model: the tokens of its own text); None: from the column
    references: list[Any] | None = None


class Task(ABC):
    """One kind of model and dataset: text, token or image classification, or a user's own (a regression
    head, a language model). Outputs reach a task as `logits`: the session's first output, one batch."""

    name: ClassVar[str]
    vocabulary: ClassVar[TaskVocabulary]  # what a suite of this task may say: metrics, dataset defaults
    model_class: ClassVar[str]  # the transformers auto class of its models
    export_task: ClassVar[str]  # the task optimum's ONNX exporter knows it by
    sort_by_length: ClassVar[bool] = False  # eval batches of like lengths pad less
    # `encode_eval` gives the references (`Encoded.references`): the eval split is encoded up front, not streamed
    references_from_encoding: ClassVar[bool] = False
    # what config.json's `architectures` of its models end with ("": any; a tuple: any of them)
    head_suffix: ClassVar[str | tuple[str, ...]] = ""
    processor_files: ClassVar[tuple[str, ...]] = ()  # globs; a model folder needs one of them to encode rows
    # the metrics its own `score` computes, and which way each is better (bundled and hub metrics are known)
    metric_infos: ClassVar[tuple[MetricInfo, ...]] = ()
    # the arrays `pair_evidence` gives; none: the two models are scored apart, and each once for every config
    pair_measures: ClassVar[tuple[str, ...]] = ()
    # a decoder with a key/value cache: its latency cases time phases (`records.Phase`: prefill, decode,
    # generate) through `tasks.decoding`, and its sessions are fed an empty cache where a feed has none
    decodes: ClassVar[bool] = False
    # what `divergence` measures between both models' outputs ("": none): the diagnosis then ranks the quantized
    # nodes by it, each measured end to end, before the error each adds to its own output
    divergence_name: ClassVar[str] = ""

    def check_model(self, model_dir: Path) -> str | None:
        """Why the model folder's own files cannot serve this task (one line naming the file and field), or
        None; asked before anything is built from it."""
        return None

    def describe_model(self, model_dir: Path) -> str | None:
        """What the run says once of how the task reads this model (an embedding's pooling), or None."""
        return None

    def load_processor(self, model_dir: Path) -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(model_dir)

    def feed(self, inputs: dict[str, Any], declared: Sequence[TensorSpec]) -> dict[str, Any]:
        """What a session is fed of prepared `inputs`, given the inputs it declares (`runtimes.base.declared_inputs`):
        by default the prepared ones it takes; a task completes what only the session knows (a decoder's empty
        key/value cache, shaped as the session declares it)."""
        names = {spec.name for spec in declared}
        return {k: v for k, v in inputs.items() if k in names}

    def calibration_rows(self, rows: dict[str, list], declared: Sequence[TensorSpec]) -> dict[str, list]:
        """Calibration rows (columns of per-sample lists) completed for a model that declares `declared`: what
        `feed` completes at run time, as a calibration dataset can hold it. Default: as they are."""
        return rows

    def timed(self, session: Any, processor: Any) -> Any:
        """What a latency case times: the session, or a session-like wrapper that also does what turns the
        outputs into the user's answer (an embedding's pooling). Default: the session itself."""
        return session

    @abstractmethod
    def encode(
        self, processor: Any, spec: DatasetSpec, rows: dict[str, list], padding: bool | str = True,
        max_length: int | None = None,
    ) -> Encoded:  # fmt: skip
        """Model inputs for `rows` (a column -> values mapping, as `datasets` slices give them)."""

    def encode_eval(self, processor: Any, spec: DatasetSpec, rows: dict[str, list]) -> Encoded:
        """Model inputs of evaluated rows: as `encode` by default. A task may give more input rows than `rows`
        (a language model scores a long document in overlapping windows) when `alignments` and `references`
        stay one per row: `evidence` gets the whole batch's outputs and the rows' alignments."""
        return self.encode(processor, spec, rows)

    def lengths(self, processor: Any, spec: DatasetSpec, rows: dict[str, list]) -> list[int]:
        """Input length per row after truncation (what a batch of them pads to); used when `sort_by_length`."""
        return [0] * len(rows[spec.primary])

    def check_input(self, value: Any) -> str | None:
        """Why one value of the input column cannot be encoded (`is null`), or None: named with its row."""
        return None

    def check_references(
        self, values: list[Any], label_names: list[str] | None, id2label: dict[int, str]
    ) -> str | None:
        """Why the reference column cannot be scored against this model's outputs, or None."""
        return None

    def references(self, values: list[Any], label_names: list[str] | None, id2label: dict[int, str]) -> list[Any]:
        """The dataset's reference column as `score` compares it with predictions (default: as it is)."""
        return list(values)

    @abstractmethod
    def predict(self, logits: Any, alignments: list[Any], references: list[Any], id2label: dict[int, str]) -> list:
        """Predictions of one batch, one per sample, comparable with its references (JSON-able values)."""

    def evidence(self, logits: Any, alignments: list[Any], references: list[Any], id2label: dict[int, str]) -> Evidence:
        """What to keep of one batch's outputs: the predictions, and the per-unit arrays the task's fidelity
        measures read (default: none). Kept in the score cache, so never a whole output tensor per token."""
        return Evidence(self.predict(logits, alignments, references, id2label))

    def pair_evidence(
        self, original: Any, quantized: Any, alignments: list[Any], references: list[Any]
    ) -> Mapping[str, Any]:
        """Per-sample arrays that need both models' outputs of one batch side by side (a divergence between
        their distributions), named as `pair_measures` lists; the scorer calls it batch by batch while both
        models run and keeps only what it returns. Default: none."""
        return {}

    def divergence(self, original: Any, quantized: Any, feed: Mapping[str, Any]) -> float:
        """How far the quantized model's outputs of one batch (`feed`) are from the original's, 0 when equal:
        one number the diagnosis ranks nodes by (`divergence_name` says what it is); asked only when it names one."""
        raise NotImplementedError(f"the {self.name} task measures no divergence")

    def continuation_lengths(self, gates: Iterable[str]) -> tuple[int, ...]:
        """How many new tokens each model must write greedily for the fidelity gates `gates` (a language model's
        `generation_agreement@N`); none: the task writes nothing."""
        return ()

    def continuations(
        self, run: Callable[[dict[str, Any]], Any], batches: Iterable[Encoded], tokens: int, context: int,
        flow: Any = None, each: Mapper = map,
    ) -> Any:  # fmt: skip
        """A model's greedy continuations by `tokens` new tokens of prompts read from the eval `batches`, `run`
        giving its outputs on a feed (the logits first) and `flow` how its key/value cache feeds the next step
        (`decoding.CacheFlow`; None: full passes); asked only when `continuation_lengths` names some. `each`
        maps a function over independent pieces of the work, in order (`map`, or the caller's pool of threads:
        a session's `run` is thread-safe)."""
        raise NotImplementedError(f"the {self.name} task writes no continuations")

    def score(
        self, metrics: tuple[str, ...], predictions: list[Any], references: list[Any], metric: Callable[[str], MetricFn]
    ) -> dict[str, float]:
        """Each metric of the suite; `metric(name)` gives the scoring function (bundled, hub or a user's)."""
        return {name: metric(name)(predictions, references) for name in metrics}

    def sample_counts(self, metric: str, predictions: list[Any], references: list[Any]) -> tuple[Any, Any] | None:
        """Per sample a numerator and a denominator whose sums' ratio is `metric` (a mean squared error: the
        squared errors and ones), so a bootstrap resamples arrays instead of rescoring; None when the metric
        does not split so (it is then rescored)."""
        return None

    def flips(self, original: list[Any], quantized: list[Any], references: list[Any]) -> tuple[int, int] | None:
        """Units (samples, or the task's flat units) right -> wrong and wrong -> right, for the McNemar test;
        None when a prediction is not right or wrong (a regression)."""
        return None

    def changed_answers(
        self, original: Evidence, quantized: Evidence, references: list[Any], inputs: Callable[[int], Any],
        id2label: dict[int, str], limit: int = CHANGED_ANSWERS,
    ) -> tuple[ChangedAnswer, ...]:  # fmt: skip
        """Up to `limit` eval inputs whose answer the quantized model changed, as a report shows them;
        `inputs(i)` is the input column's value of sample `i` (None when the split is not at hand). Default:
        none (a task whose answers are not labels, a regression or a language model)."""
        return ()

    def fidelity(
        self, name: str, original: Evidence, quantized: Evidence, paired: Mapping[str, Any]
    ) -> MetricResult | None:
        """A fidelity gate's measure of the quantized model against the original (`agreement`, `cosine`), from
        both models' evidence and the `pair_evidence` arrays; None when this task does not measure `name`."""
        return None

    def chance(self, references: list[Any]) -> dict[str, float]:
        """Per metric, what a model that knows nothing scores (a classifier: always the majority label; a
        regression: always the mean): the level a collapse falls, or rises, to. Metrics left out have none
        (higher-is-better ones then fall to 0.0)."""
        return {}

    def metric_info(self, name: str) -> MetricInfo | None:
        """What the task declares of one of its metrics (`metric_infos`), or None."""
        return next((info for info in self.metric_infos if info.name == name), None)
