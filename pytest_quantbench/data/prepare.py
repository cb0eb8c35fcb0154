"""Datasets in, numpy batches out: loading with `datasets`, encoding with the task and the model's processor.

Everything a session needs is prepared once per suite, outside any timed call: eval batches, references,
calibration samples and the fixed-shape inputs of the timing cases.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from pytest_quantbench.artifacts import builtins, hub, sources
from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.progress import Progress, say
from pytest_quantbench.suite import DatasetSpec
from pytest_quantbench.tasks import Encoded, Task

EVAL_BATCH_SIZE = 8  # small batches of length-sorted rows carry little padding; one batch per core runs at once
ROWS_PER_READ = 1024  # rows read from the Arrow table at once where no batch is kept (a multiple of the batch)
KEEP_ENCODED_BYTES = 64 * 2**20  # of eval batches' model inputs kept between evaluations (`KeptBatches`)
CALIBRATION_SEED = 2016
# How `datasets` words a split it cannot give (its ValueErrors): read here, where it is called, and nowhere else.
DATASETS_UNKNOWN_SPLIT = "Unknown split"  # 'Unknown split "test". Should be one of ['train', 'validation'].'
DATASETS_SPLITS = re.compile(r"Should be one of (\[.*\])")
DATASETS_EMPTY_SPLIT = "corresponds to no data"  # 'Instruction "validation" corresponds to no data!'


class SplitNotFound(Exception):
    """The dataset has no split of that name; `known` lists the splits it has (empty when not known)."""

    def __init__(self, split: str, known: tuple[str, ...] = ()) -> None:
        super().__init__(f"no split '{split}'" + (f" (splits: {list(known)})" if known else ""))
        self.split, self.known = split, known


class EmptySplit(Exception):
    """The split is there but selects no rows."""

    def __init__(self, split: str) -> None:
        super().__init__(f"split '{split}' is empty")
        self.split = split


def split_problem(exc: Exception, split: str) -> SplitNotFound | EmptySplit | None:
    """`datasets`' error for a split it cannot give, as a typed signal; None for any other error."""
    if not isinstance(exc, ValueError):
        return None
    text = str(exc)
    if text.startswith(DATASETS_UNKNOWN_SPLIT):
        listed = DATASETS_SPLITS.search(text)
        try:
            known = tuple(map(str, ast.literal_eval(listed[1]))) if listed else ()
        except (ValueError, SyntaxError):  # not a list literal after all: name the split alone
            known = ()
        return SplitNotFound(split, known)
    return EmptySplit(split) if DATASETS_EMPTY_SPLIT in text else None


class KeptBatches:
    """Encoded batches kept for the next evaluation, up to `KEEP_ENCODED_BYTES` of model inputs: a split that
    fits is encoded once for every model scored on it, a bigger one is encoded again for each."""

    def __init__(self) -> None:
        self.batches: dict[int, Encoded] = {}
        self.bytes = 0

    def keep(self, index: int, encoded: Encoded) -> None:
        size = sum(int(getattr(value, "nbytes", 0)) for value in encoded.inputs.values())
        if self.bytes + size <= KEEP_ENCODED_BYTES:
            self.batches[index] = encoded
            self.bytes += size


class EncodedBatches(Sequence[dict[str, Any]]):
    """The eval batches of a dataset's rows (in eval order), each read from its Arrow table and encoded by the
    task when it is asked for: what evaluation holds is a few batches and `KeptBatches`, not the split.
    `count` limits them to the first batches (`head`), which share what is kept."""

    def __init__(
        self, task: Task, spec: DatasetSpec, dataset: Any, processor: Any, count: int | None = None,
        kept: KeptBatches | None = None,
    ) -> None:  # fmt: skip
        self.task, self.spec, self.dataset, self.processor = task, spec, dataset, processor
        every = -(-len(dataset) // EVAL_BATCH_SIZE)
        self.batch_count = every if count is None else min(count, every)
        self.kept = kept if kept is not None else KeptBatches()

    def __len__(self) -> int:
        return self.batch_count

    @property
    def row_count(self) -> int:
        return min(self.batch_count * EVAL_BATCH_SIZE, len(self.dataset))

    def encoded(self, index: int) -> Encoded:
        """Batch `index`'s model inputs and its samples' alignments."""
        if not 0 <= index < self.batch_count:
            raise IndexError(index)
        found = self.kept.batches.get(index)
        if found is None:
            start = index * EVAL_BATCH_SIZE
            rows = self.dataset[start : start + EVAL_BATCH_SIZE]
            found = self.task.encode_eval(self.processor, self.spec, rows)
            self.kept.keep(index, found)
        return found

    def size(self, index: int) -> int:
        """Samples (dataset rows) of batch `index`, known without encoding it."""
        return min(EVAL_BATCH_SIZE, len(self.dataset) - index * EVAL_BATCH_SIZE)

    def head(self, batches: int) -> EncodedBatches:
        """The first `batches` batches."""
        return EncodedBatches(
            self.task, self.spec, self.dataset, self.processor, min(batches, self.batch_count), self.kept
        )

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.encoded(index + len(self) if index < 0 else index).inputs

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self.encoded(i).inputs for i in range(len(self)))


class EvalData:
    """Model inputs per batch, the references they are scored against, and per sample what the task needs to
    read its logits back (`Encoded.alignments`).

    `batches` is a list of encoded batches, or `EncodedBatches`, which encodes each batch when it is read:
    the references are kept (one small value per sample), the inputs never all at once. `encoded()` gives each
    batch with its samples' alignments, as the scorer reads them. `sizes` gives the samples of each listed
    batch when it has more input rows than samples (a document scored in windows); `size(index)` reads it.
    """

    def __init__(
        self,
        batches: Sequence[dict[str, Any]],
        references: list[Any],
        alignments: list[Any] | None = None,
        label_names: list[str] | None = None,
        sizes: list[int] | None = None,
    ) -> None:
        self.batches, self.references, self.label_names = batches, references, label_names
        self._alignments = alignments
        self.sizes = sizes or []

    def size(self, index: int) -> int:
        """Samples of batch `index`."""
        if isinstance(self.batches, EncodedBatches):
            return self.batches.size(index)
        return self.sizes[index] if self.sizes else len(next(iter(self.batches[index].values())))

    @property
    def alignments(self) -> list[Any]:
        """Every sample's alignment; for batches encoded on demand, one pass encodes them all (`encoded()`
        gives them batch by batch instead)."""
        if self._alignments is None:
            lazy = isinstance(self.batches, EncodedBatches)
            self._alignments = [a for encoded in self.encoded() for a in encoded.alignments] if lazy else []
        return self._alignments

    def encoded(self) -> Iterator[Encoded]:
        """Each batch's inputs and its samples' alignments, in order."""
        if isinstance(self.batches, EncodedBatches):
            yield from (self.batches.encoded(i) for i in range(len(self.batches)))
            return
        start = 0
        for index, batch in enumerate(self.batches):
            count = self.size(index)
            yield Encoded(batch, self.alignments[start : start + count])
            start += count

    def input_of(self, index: int) -> Any:
        """The input column's value of sample `index` (a text, words, an image), read from the split; None when
        the batches were encoded up front (the split is not kept)."""
        if not isinstance(self.batches, EncodedBatches):
            return None
        return self.batches.dataset[index][self.batches.spec.primary]

    def head(self, samples: int) -> EvalData:
        """The whole batches that hold the first `samples` rows (a quick slice, e.g. for the fallback
        search's trials), so the slice does not depend on the batch size."""
        if isinstance(self.batches, EncodedBatches):
            batches = self.batches.head(-(-samples // EVAL_BATCH_SIZE))
            return EvalData(batches, self.references[: batches.row_count], None, self.label_names)
        kept, rows = [], 0
        for index, batch in enumerate(self.batches):
            if rows >= samples:
                break
            kept.append(batch)
            rows += self.size(index)
        sizes = self.sizes[: len(kept)]
        return EvalData(kept, self.references[:rows], self.alignments[:rows], self.label_names, sizes)


def _resolve_files(value: Any, base: Path) -> Any:
    if isinstance(value, str):
        local = sources.resolve_local(value, base)
        return str(local) if local else value
    if isinstance(value, list):
        return [_resolve_files(v, base) for v in value]
    return {k: _resolve_files(v, base) for k, v in value.items()}


def saved_to_disk(folder: Path | None) -> bool:
    """A folder written by `save_to_disk` (a `DatasetDict`, or one `Dataset`), which `load_dataset` misreads."""
    return folder is not None and ((folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file())


def load_from_disk(folder: Path, split: str) -> Any:
    """One split of a saved `DatasetDict`; a saved single `Dataset` serves every split the suite names."""
    import datasets

    saved = datasets.load_from_disk(str(folder))
    if isinstance(saved, datasets.Dataset):
        return saved
    if split not in saved:
        raise SplitNotFound(split, tuple(saved))
    return saved[split]


def load_args(spec: DatasetSpec) -> dict[str, Any]:
    """`datasets.load_dataset`'s arguments for the suite's dataset (not a builtin recipe): local paths resolved
    from the suite file's folder."""
    base = Path(spec.base_dir)
    local = sources.resolve_local(spec.path, base)
    kwargs = {"path": str(local) if local else spec.path, "name": spec.name}
    if spec.data_files is not None:
        kwargs["data_files"] = _resolve_files(spec.data_files, base)
    if spec.data_dir is not None:
        kwargs["data_dir"] = _resolve_files(spec.data_dir, base)
    return kwargs


def load_split(spec: DatasetSpec, split: str, cache: ArtifactCache, progress: Progress = say) -> Any:
    """One split as a `datasets.Dataset`, from a builtin recipe, local files, a saved dataset or the hub."""
    import datasets

    base = Path(spec.base_dir)
    local = None if spec.path.startswith(builtins.PREFIX) else sources.resolve_local(spec.path, base)
    if local is not None and saved_to_disk(local):
        return load_from_disk(local, split)
    if spec.path.startswith(builtins.PREFIX):
        kwargs = builtins.dataset_args(spec.path[len(builtins.PREFIX) :], cache, progress)
    else:
        sources.check_dataset_reachable(spec.path, base, progress)
        kwargs = load_args(spec)
    datasets.disable_progress_bars()
    try:
        if sources.dataset_needs_hub(spec.path, base):  # within the run's deadlines: one line, never a hang
            return hub.load(f"dataset '{spec.path}'", lambda: datasets.load_dataset(**kwargs, split=split), progress)
        return datasets.load_dataset(**kwargs, split=split)
    except hub.HubError:
        raise
    except Exception as exc:
        reason = sources.dataset_needs_hub(spec.path, base) and sources.hub_unreachable_reason()
        if reason:
            raise sources.SourceUnavailable(f"dataset '{spec.path}' is not in the local cache and {reason}") from exc
        problem = split_problem(exc, split)
        if problem is not None:
            raise problem from exc
        raise


def eval_rows(spec: DatasetSpec, dataset: Any) -> Any:
    """The rows evaluated: the first `num_eval_samples`, or every row when the split has fewer."""
    if spec.num_eval_samples is not None:
        return dataset.select(range(min(spec.num_eval_samples, len(dataset))))
    return dataset


def calibration_rows(dataset: Any, num_samples: int) -> Any:
    """The rows calibrated on: a seeded sample of `num_samples`, or every row when the split has fewer."""
    return dataset.shuffle(seed=CALIBRATION_SEED).select(range(min(num_samples, len(dataset))))


def label_names(dataset: Any, column: str) -> list[str] | None:
    """The dataset's own label names (a `ClassLabel` column, or a sequence of them for tags)."""
    feature = dataset.features[column]
    feature = getattr(feature, "feature", feature)  # Sequence(ClassLabel) for token tags
    return list(feature.names) if hasattr(feature, "names") else None


def sorted_by_length(task: Task, spec: DatasetSpec, dataset: Any, processor: Any) -> Any:
    """The rows in order of their encoded length (a stable sort), lengths computed `ROWS_PER_READ` at a time."""
    counts: list[int] = []
    for start in range(0, len(dataset), ROWS_PER_READ):
        counts += task.lengths(processor, spec, dataset[start : start + ROWS_PER_READ])
    return dataset.select(sorted(range(len(dataset)), key=counts.__getitem__))


def eval_references(task: Task, dataset: Any, column: str, names: Any, id2label: dict[int, str]) -> list[Any]:
    """The task's references of every row: the column alone is read, `ROWS_PER_READ` at a time, and turned
    into references a batch at a time, as the batches are."""
    values = dataset.select_columns([column])
    references: list[Any] = []
    for start in range(0, len(dataset), ROWS_PER_READ):
        chunk = values[start : start + ROWS_PER_READ][column]
        for at in range(0, len(chunk), EVAL_BATCH_SIZE):
            references += task.references(chunk[at : at + EVAL_BATCH_SIZE], names, id2label)
    return references


def eval_data(task: Task, spec: DatasetSpec, dataset: Any, processor: Any, id2label: dict[int, str]) -> EvalData:
    """The eval rows as batches encoded on demand, and their references."""
    dataset = eval_rows(spec, dataset)
    if task.sort_by_length:  # every metric ignores order
        dataset = sorted_by_length(task, spec, dataset, processor)
    ref_col = spec.ref_keys[0] if spec.ref_keys else None  # none: label-free, gated on fidelity alone
    names = label_names(dataset, ref_col) if ref_col else None
    batches = EncodedBatches(task, spec, dataset, processor)
    if task.references_from_encoding:
        return encoded_eval_data(batches, names)
    references = eval_references(task, dataset, ref_col, names, id2label) if ref_col else [None] * len(dataset)
    return EvalData(batches, references, label_names=names)


def encoded_eval_data(batches: EncodedBatches, names: list[str] | None) -> EvalData:
    """Every batch encoded now, for a task whose encoding gives the references (a language model's windows of
    its documents): the references are needed before any batch is scored, so this split is not streamed."""
    inputs: list[dict[str, Any]] = []
    references: list[Any] = []
    alignments: list[Any] = []
    for index in range(len(batches)):
        encoded = batches.encoded(index)
        inputs.append(encoded.inputs)
        alignments += encoded.alignments
        references += encoded.references or []
    sizes = [batches.size(index) for index in range(len(batches))]
    return EvalData(inputs, references, alignments, names, sizes)


def calibration_dataset(
    task: Task, spec: DatasetSpec, dataset: Any, processor: Any, num_samples: int, padding: str
) -> Any:
    """A `datasets.Dataset` of model inputs, as `ORTQuantizer.fit` takes it.

    `padding: none` encodes each sample alone, so no position is masked and the attention-mask `Add` never
    sees the fp32 minimum (calibration then runs one sample at a time).
    """
    import datasets

    dataset = calibration_rows(dataset, num_samples)
    if padding == "none":
        rows = [task.encode(processor, spec, dataset[i : i + 1], padding=False).inputs for i in range(len(dataset))]
        return datasets.Dataset.from_dict({k: [row[k][0] for row in rows] for k in rows[0]})
    inputs = task.encode(processor, spec, dataset[:], padding=padding).inputs
    return datasets.Dataset.from_dict({k: list(v) for k, v in inputs.items()})


def timing_inputs(
    task: Task, spec: DatasetSpec, dataset: Any, processor: Any, batch_size: int, input_length: int | None
) -> dict[str, Any]:
    """Real samples, padded or cut to exactly `input_length`, repeated up to `batch_size` rows."""
    picks = [i % len(dataset) for i in range(batch_size)]
    rows = dataset.select(picks)[:]
    return task.encode(processor, spec, rows, padding="max_length", max_length=input_length).inputs
