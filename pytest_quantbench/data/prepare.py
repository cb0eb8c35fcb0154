"""Datasets in, numpy batches out: loading with `datasets`, preprocessing with the model's own processor.

Everything a session needs is prepared once per suite, outside any timed call: eval batches, references,
calibration samples and the fixed-shape inputs of the timing cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts import builtins, sources
from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.progress import Progress, say
from pytest_quantbench.suite import DatasetSpec, Suite

EVAL_BATCH_SIZE = 32
CALIBRATION_SEED = 2016


@dataclass
class EvalData:
    """Model inputs per batch and the references they are scored against."""

    batches: list[dict[str, Any]]  # input name -> numpy array
    references: list[Any]
    # token-classification: per sample, the token position of each word's first sub-token
    word_starts: list[list[int]] = field(default_factory=list)
    label_names: list[str] | None = None


def _resolve_files(value: Any, base: Path) -> Any:
    if isinstance(value, str):
        local = sources.resolve_local(value, base)
        return str(local) if local else value
    if isinstance(value, list):
        return [_resolve_files(v, base) for v in value]
    return {k: _resolve_files(v, base) for k, v in value.items()}


def load_split(spec: DatasetSpec, split: str, cache: ArtifactCache, progress: Progress = say):
    """One split as a `datasets.Dataset`, from a builtin recipe, local files or the hub."""
    import datasets

    base = Path(spec.base_dir)
    if spec.path.startswith(builtins.PREFIX):
        kwargs = builtins.dataset_args(spec.path[len(builtins.PREFIX) :], cache, progress)
    else:
        sources.check_dataset_reachable(spec.path, base)
        local = sources.resolve_local(spec.path, base)
        kwargs = {"path": str(local) if local else spec.path, "name": spec.name}
        if spec.data_files is not None:
            kwargs["data_files"] = _resolve_files(spec.data_files, base)
        if spec.data_dir is not None:
            kwargs["data_dir"] = _resolve_files(spec.data_dir, base)
    datasets.disable_progress_bars()
    try:
        return datasets.load_dataset(**kwargs, split=split)
    except Exception as exc:
        reason = sources.dataset_needs_hub(spec.path, base) and sources.hub_unreachable_reason()
        if reason:
            raise sources.SourceUnavailable(f"dataset '{spec.path}' is not in the local cache and {reason}") from exc
        raise


def load_processor(task: str, model_dir: Path):
    if task == "image-classification":
        from transformers import AutoImageProcessor

        return AutoImageProcessor.from_pretrained(model_dir)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def _label_names(dataset, column: str) -> list[str] | None:
    feature = dataset.features[column]
    feature = getattr(feature, "feature", feature)  # Sequence(ClassLabel) for token tags
    return list(feature.names) if hasattr(feature, "names") else None


class Preprocessor:
    """Turns raw rows of one suite's dataset into model inputs."""

    def __init__(self, suite: Suite, processor: Any) -> None:
        self.task = suite.task
        self.spec = suite.dataset
        self.processor = processor

    def encode(self, rows: dict[str, list], padding: bool | str = True, max_length: int | None = None) -> dict:
        import numpy as np

        if self.task == "image-classification":
            images = [img.convert("RGB") for img in rows[self.spec.primary]]
            pixels = self.processor(images=images, return_tensors="np")["pixel_values"]
            return {"pixel_values": pixels.astype(np.float32)}
        enc = self.processor(
            *self._texts(rows),
            padding=padding,
            truncation=True,
            max_length=max_length or self.spec.max_length,
            is_split_into_words=self.task == "token-classification",
            return_tensors="np",
        )
        out = {k: np.asarray(v, dtype=np.int64) for k, v in enc.items()}
        if self.task == "token-classification":
            out["_word_ids"] = [enc.word_ids(i) for i in range(len(rows[self.spec.primary]))]
        return out

    def token_counts(self, rows: dict[str, list]) -> list[int]:
        """Tokens per text row after truncation: what a batch of these rows pads to."""
        enc = self.processor(
            *self._texts(rows),
            truncation=True,
            max_length=self.spec.max_length,
            is_split_into_words=self.task == "token-classification",
        )
        return [len(ids) for ids in enc["input_ids"]]

    def _texts(self, rows: dict[str, list]) -> list[list]:
        return [rows[self.spec.primary]] + ([rows[self.spec.secondary]] if self.spec.secondary else [])


def eval_data(suite: Suite, dataset, preprocessor: Preprocessor, id2label: dict[int, str]) -> EvalData:
    spec = suite.dataset
    if spec.num_eval_samples is not None:
        dataset = dataset.select(range(min(spec.num_eval_samples, len(dataset))))
    if suite.task != "image-classification":  # batches of like lengths pad little; every metric ignores order
        counts = preprocessor.token_counts(dataset[:])
        dataset = dataset.select(sorted(range(len(dataset)), key=counts.__getitem__))
    ref_col = spec.ref_keys[0]
    names = _label_names(dataset, ref_col)
    label2id = {v.lower(): k for k, v in id2label.items()}
    data = EvalData(batches=[], references=[], label_names=names)
    for start in range(0, len(dataset), EVAL_BATCH_SIZE):
        rows = dataset[start : start + EVAL_BATCH_SIZE]
        enc = preprocessor.encode(rows)
        word_ids = enc.pop("_word_ids", None)
        data.batches.append(enc)
        refs = rows[ref_col]
        if suite.task == "token-classification":
            for i, tags in enumerate(refs):
                data.references.append([_tag_name(t, names, id2label) for t in tags])
                data.word_starts.append(_word_starts(word_ids[i]))
        elif names and all(n.lower() in label2id for n in names):
            data.references += [label2id[names[r].lower()] for r in refs]  # align dataset and model label ids
        else:
            data.references += list(refs)
    return data


def _tag_name(tag: Any, names: list[str] | None, id2label: dict[int, str]) -> str:
    if isinstance(tag, str):
        return tag
    return names[tag] if names else id2label[int(tag)]


def _word_starts(word_ids: list[int | None]) -> list[int]:
    """Position of each word's first sub-token: the one whose prediction stands for the word."""
    starts, previous = [], None
    for pos, word in enumerate(word_ids):
        if word is not None and word != previous:
            starts.append(pos)
        previous = word
    return starts


def calibration_dataset(suite: Suite, dataset, preprocessor: Preprocessor, num_samples: int, padding: str):
    """A `datasets.Dataset` of model inputs, as `ORTQuantizer.fit` takes it.

    `padding: none` encodes each sample alone, so no position is masked and the attention-mask `Add` never
    sees the fp32 minimum (calibration then runs one sample at a time).
    """
    import datasets

    dataset = dataset.shuffle(seed=CALIBRATION_SEED).select(range(min(num_samples, len(dataset))))
    if padding == "none":
        rows = [preprocessor.encode(dataset[i : i + 1], padding=False) for i in range(len(dataset))]
        for row in rows:
            row.pop("_word_ids", None)
        return datasets.Dataset.from_dict({k: [row[k][0] for row in rows] for k in rows[0]})
    enc = preprocessor.encode(dataset[:], padding=padding)
    enc.pop("_word_ids", None)
    return datasets.Dataset.from_dict({k: list(v) for k, v in enc.items()})


def timing_inputs(dataset, preprocessor: Preprocessor, batch_size: int, input_length: int | None) -> dict:
    """Real samples, padded or cut to exactly `input_length`, repeated up to `batch_size` rows."""
    picks = [i % len(dataset) for i in range(batch_size)]
    rows = dataset.select(picks)[:]
    enc = preprocessor.encode(rows, padding="max_length", max_length=input_length)
    enc.pop("_word_ids", None)
    return enc
