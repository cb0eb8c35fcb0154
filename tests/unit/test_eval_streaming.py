"""Evaluation streams: rows are read and encoded batch by batch from the Arrow table, never the split at once.

A dataset wrapper counts the input rows each read takes; the batches must be those of encoding every row up
front (same rows, same order, same arrays), and a big file evaluated on a few rows is streamed, not loaded.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tiny_models as tm

from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.data import head, prepare, validate
from pytest_quantbench.errors import DataError
from pytest_quantbench.suite import DatasetSpec
from pytest_quantbench.tasks.text_classification import TextClassification

LABELS = {0: "NEGATIVE", 1: "POSITIVE"}
ROWS = 100
SPEC = DatasetSpec(path="csv", max_length=8)


class CountingRows:
    """A `datasets.Dataset` that records how many input rows ('sentence') each read takes; views made from it
    (`select`, `select_columns`) record into the same list."""

    def __init__(self, inner: Any, reads: list[int] | None = None) -> None:
        self.inner, self.reads = inner, reads if reads is not None else []

    def __len__(self) -> int:
        return len(self.inner)

    @property
    def features(self) -> Any:
        return self.inner.features

    @property
    def column_names(self) -> list[str]:
        return self.inner.column_names

    def select(self, indices: Any) -> CountingRows:
        return CountingRows(self.inner.select(indices), self.reads)

    def select_columns(self, columns: list[str]) -> CountingRows:
        return CountingRows(self.inner.select_columns(columns), self.reads)

    def __getitem__(self, key: Any) -> Any:
        found = self.inner[key]
        if key == "sentence":
            self.reads.append(len(found))
        elif not isinstance(key, str) and "sentence" in found:
            self.reads.append(len(found["sentence"]) if isinstance(key, slice) else 1)
        return found


class Unsorted(TextClassification):
    sort_by_length = False  # no length pass: nothing but the batches reads the input column


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("tokenizer")
    tm.word_tokenizer(folder)
    return AutoTokenizer.from_pretrained(folder)


def rows(n: int = ROWS) -> Any:
    import datasets

    return datasets.Dataset.from_list(tm.sentences(n, seed=4))


def up_front(task: TextClassification, dataset: Any, tokenizer: Any) -> list[dict[str, Any]]:
    """The batches as they were made before evaluation streamed: every row read and encoded at once."""
    if task.sort_by_length:
        counts = task.lengths(tokenizer, SPEC, dataset[:])
        dataset = dataset.select(sorted(range(len(dataset)), key=counts.__getitem__))
    step = prepare.EVAL_BATCH_SIZE
    return [task.encode(tokenizer, SPEC, dataset[i : i + step]).inputs for i in range(0, len(dataset), step)]


def same_batches(found: list[dict[str, Any]], expected: list[dict[str, Any]]) -> bool:
    return len(found) == len(expected) and all(
        a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        for a, b in zip(found, expected, strict=True)
    )


def test_batches_are_encoded_only_as_they_are_read(tokenizer: Any) -> None:
    data = CountingRows(rows())
    eval_data = prepare.eval_data(Unsorted(), SPEC, data, tokenizer, LABELS)
    assert data.reads == []  # the references came from their own column; no input row was read
    assert eval_data.references == [row["label"] for row in tm.sentences(ROWS, seed=4)]

    batches = eval_data.encoded()
    first = next(batches)
    assert data.reads == [prepare.EVAL_BATCH_SIZE]  # one batch read, one batch encoded
    assert len(first.inputs["input_ids"]) == prepare.EVAL_BATCH_SIZE
    list(batches)
    assert sum(data.reads) == ROWS and max(data.reads) == prepare.EVAL_BATCH_SIZE


def test_lengths_are_read_in_chunks_and_the_batches_are_those_encoded_up_front(
    tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare, "ROWS_PER_READ", 16)
    data = CountingRows(rows())
    eval_data = prepare.eval_data(TextClassification(), SPEC, data, tokenizer, LABELS)
    assert sum(data.reads) == ROWS and max(data.reads) == 16  # the length pass, a chunk at a time
    assert same_batches(list(eval_data.batches), up_front(TextClassification(), rows(), tokenizer))
    assert same_batches(list(eval_data.batches), up_front(TextClassification(), rows(), tokenizer))  # read again


def test_encoded_batches_are_kept_within_their_budget(tokenizer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data = CountingRows(rows())
    eval_data = prepare.eval_data(Unsorted(), SPEC, data, tokenizer, LABELS)
    list(eval_data.batches), list(eval_data.batches)
    assert sum(data.reads) == ROWS  # small: encoded once for every model scored on it

    monkeypatch.setattr(prepare, "KEEP_ENCODED_BYTES", 0)
    data = CountingRows(rows())
    eval_data = prepare.eval_data(Unsorted(), SPEC, data, tokenizer, LABELS)
    list(eval_data.batches), list(eval_data.batches)
    assert sum(data.reads) == 2 * ROWS  # over the budget: read and encoded again, never all kept


def test_a_lazy_head_holds_whole_batches_and_reads_only_them(tokenizer: Any) -> None:
    data = CountingRows(rows())
    eval_data = prepare.eval_data(Unsorted(), SPEC, data, tokenizer, LABELS)
    first = eval_data.head(10)
    assert len(first.batches) == 2 and first.references == eval_data.references[:16]
    assert [len(e.inputs["input_ids"]) for e in first.encoded()] == [8, 8]
    assert sum(data.reads) == 16
    assert same_batches(list(first.batches), list(eval_data.batches)[:2])


def test_row_checks_read_a_chunk_at_a_time_and_name_the_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    from pytest_quantbench.suite import load_suite

    suite_file = tmp_path / "s.suite.yaml"
    suite_file.write_text("task: text-classification\nmodel_name_or_path: .\ndataset: {path: csv}\n")
    suite = load_suite(suite_file)
    monkeypatch.setattr(validate, "ROWS_PER_READ", 16)
    listed = tm.sentences(ROWS, seed=4)
    data = CountingRows(datasets.Dataset.from_list(listed))
    validate.check_rows(suite, TextClassification(), data, "validation", LABELS, None)
    assert sum(data.reads) == ROWS and max(data.reads) == 16

    listed[37]["sentence"] = None
    broken = CountingRows(datasets.Dataset.from_list(listed))
    with pytest.raises(DataError, match=r"split 'validation', row 37: 'sentence' is null"):
        validate.check_rows(suite, TextClassification(), broken, "validation", LABELS, None)
    assert sum(broken.reads) == 48  # stopped in the chunk of the row


def test_bootstrap_intervals_do_not_depend_on_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_quantbench.verdicts import statistics

    rng = np.random.default_rng(3)
    refs, original, quantized = (rng.integers(0, 2, 301).tolist() for _ in range(3))

    def accuracy(predictions: list, references: list) -> float:
        return float(np.mean(np.equal(predictions, references)))

    def drops() -> np.ndarray:
        task = TextClassification()
        return statistics.bootstrap_drops(task, "accuracy", original, quantized, refs, lambda n: accuracy)

    whole = drops()
    monkeypatch.setattr(statistics, "BLOCK_INDICES", 1000)  # three resamples a block
    assert np.array_equal(whole, drops())


def write_csv(path: Path, n: int) -> list[dict[str, Any]]:
    listed = tm.sentences(n, seed=6)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, ["sentence", "label"])
        writer.writeheader()
        writer.writerows(listed)
    return listed


def test_a_big_file_evaluated_on_a_few_rows_is_streamed_not_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    listed = write_csv(tmp_path / "big.csv", 5000)
    monkeypatch.setattr(head, "STREAM_ABOVE_BYTES", 1000)
    monkeypatch.setattr(head, "STREAM_BATCH_ROWS", 64)
    monkeypatch.setattr(datasets, "load_dataset", None)  # the whole split is never loaded
    spec = DatasetSpec(path="csv", data_files={"validation": "big.csv"}, num_eval_samples=100, base_dir=str(tmp_path))
    cache = ArtifactCache(tmp_path / "cache")
    first = head.first_rows(spec, "validation", cache)
    assert first is not None and first[:] == {k: [row[k] for row in listed[:100]] for k in ("sentence", "label")}
    assert head.first_rows(spec, "validation", cache)._fingerprint == first._fingerprint  # kept: read once

    write_csv(tmp_path / "big.csv", 4000)  # an edited file is streamed again
    assert head.first_rows(spec, "validation", cache)._fingerprint != first._fingerprint


def test_a_small_file_or_no_sample_count_loads_as_before(tmp_path: Path) -> None:
    write_csv(tmp_path / "small.csv", 50)
    cache = ArtifactCache(tmp_path / "cache")
    few = DatasetSpec(path="csv", data_files={"validation": "small.csv"}, num_eval_samples=10, base_dir=str(tmp_path))
    assert head.first_rows(few, "validation", cache) is None  # under STREAM_ABOVE_BYTES
    every = DatasetSpec(path="csv", data_files={"validation": "small.csv"}, base_dir=str(tmp_path))
    assert head.first_rows(every, "validation", cache) is None
    assert head.first_rows(few, "test", cache) is None  # no such split: the whole load says so


@pytest.mark.parametrize(("approach", "rows"), [("dynamic", 100), ("static", 5000)])
def test_the_eval_split_is_streamed_unless_a_static_config_calibrates_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, approach: str, rows: int
) -> None:
    from pytest_quantbench.artifacts.sources import Models
    from pytest_quantbench.data.store import SuiteData
    from pytest_quantbench.suite import load_suite
    from pytest_quantbench.tasks import BUILTIN

    write_csv(tmp_path / "big.csv", 5000)
    monkeypatch.setattr(head, "STREAM_ABOVE_BYTES", 1000)
    suite_file = tmp_path / "big.suite.yaml"
    suite_file.write_text(
        "task: text-classification\nmodel_name_or_path: .\n"
        "dataset: {path: csv, data_files: {validation: big.csv}, eval_split: validation, "
        "calibration_split: validation, num_eval_samples: 100}\n"
        f"fixed: {{quantization_approach: {approach}}}\n"
    )
    suite = load_suite(suite_file)
    cache = ArtifactCache(tmp_path / "cache")
    task = next(t for t in BUILTIN if t.name == "text-classification")
    data = SuiteData(suite, task, Models(cache, print), cache, print)
    assert len(data.split("validation")) == rows  # calibration draws from every row: the split loads whole
