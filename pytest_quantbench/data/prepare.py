"""Datasets in, numpy batches out: loading with `datasets`, encoding with the task and the model's processor.

Everything a session needs is prepared once per suite, outside any timed call: eval batches, references,
calibration samples and the fixed-shape inputs of the timing cases.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts import builtins, hub, sources
from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.progress import Progress, say
from pytest_quantbench.suite import DatasetSpec
from pytest_quantbench.tasks import Task

EVAL_BATCH_SIZE = 8  # small batches of length-sorted rows carry little padding; one batch per core runs at once
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


@dataclass
class EvalData:
    """Model inputs per batch, the references they are scored against, and per sample what the task needs to
    read its logits back (`Encoded.alignments`)."""

    batches: list[dict[str, Any]]  # input name -> numpy array
    references: list[Any]
    alignments: list[Any] = field(default_factory=list)
    label_names: list[str] | None = None
    # samples per batch, when a batch has more input rows than samples (a document scored in windows)
    sizes: list[int] = field(default_factory=list)

    def size(self, index: int) -> int:
        """Samples of batch `index`."""
        return self.sizes[index] if self.sizes else len(next(iter(self.batches[index].values())))

    def head(self, samples: int) -> EvalData:
        """The whole batches that hold the first `samples` rows (a quick slice, e.g. for the fallback
        search's trials), so the slice does not depend on the batch size."""
        batches, rows = [], 0
        for index, batch in enumerate(self.batches):
            if rows >= samples:
                break
            batches.append(batch)
            rows += self.size(index)
        sizes = self.sizes[: len(batches)]
        return EvalData(batches, self.references[:rows], self.alignments[:rows], self.label_names, sizes)


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
        kwargs = {"path": str(local) if local else spec.path, "name": spec.name}
        if spec.data_files is not None:
            kwargs["data_files"] = _resolve_files(spec.data_files, base)
        if spec.data_dir is not None:
            kwargs["data_dir"] = _resolve_files(spec.data_dir, base)
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


def eval_data(task: Task, spec: DatasetSpec, dataset: Any, processor: Any, id2label: dict[int, str]) -> EvalData:
    dataset = eval_rows(spec, dataset)
    if task.sort_by_length:  # every metric ignores order
        counts = task.lengths(processor, spec, dataset[:])
        dataset = dataset.select(sorted(range(len(dataset)), key=counts.__getitem__))
    ref_col = spec.ref_keys[0] if spec.ref_keys else None  # none: label-free, gated on fidelity alone
    names = label_names(dataset, ref_col) if ref_col else None
    data = EvalData(batches=[], references=[], label_names=names)
    for start in range(0, len(dataset), EVAL_BATCH_SIZE):
        rows = dataset[start : start + EVAL_BATCH_SIZE]
        encoded = task.encode_eval(processor, spec, rows)
        data.batches.append(encoded.inputs)
        data.alignments += encoded.alignments
        count = len(rows[spec.primary])
        data.sizes.append(count)
        if encoded.references is not None:
            data.references += encoded.references
        else:
            data.references += task.references(rows[ref_col], names, id2label) if ref_col else [None] * count
    return data


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
