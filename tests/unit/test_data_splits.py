"""A split the dataset cannot give: `data/prepare.py` turns `datasets`' wording into typed signals (pinned here
against the installed `datasets`, so a reworded error fails this test, not a user's run), and
`data/validate.py` words those signals as one line naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_quantbench.data import prepare, validate
from pytest_quantbench.data.prepare import EmptySplit, SplitNotFound
from pytest_quantbench.suite import DatasetSpec, Suite, TimeSpec


def demo_suite(tmp_path: Path) -> Suite:
    dataset = DatasetSpec(path="csv", eval_split="validation", calibration_split="calib")
    return Suite(tmp_path / "demo.suite.yaml", "demo", "text-classification", "m", dataset, (), TimeSpec(), (), ())


def test_datasets_unknown_split_is_a_split_not_found(tmp_path: Path) -> None:
    import datasets

    (tmp_path / "train.csv").write_text("sentence,label\na,0\n")
    (tmp_path / "validation.csv").write_text("sentence,label\nb,1\n")
    files = {"train": str(tmp_path / "train.csv"), "validation": str(tmp_path / "validation.csv")}
    with pytest.raises(ValueError) as info:
        datasets.load_dataset("csv", data_files=files, split="test", cache_dir=str(tmp_path / "cache"))
    problem = prepare.split_problem(info.value, "test")
    assert isinstance(problem, SplitNotFound)
    assert (problem.split, problem.known) == ("test", ("train", "validation"))


def test_a_saved_dataset_without_the_split_is_a_split_not_found(tmp_path: Path) -> None:
    import datasets

    saved = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"sentence": ["a"], "label": [0]})})
    saved.save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(SplitNotFound) as info:
        prepare.load_from_disk(tmp_path / "saved", "validation")
    assert (info.value.split, info.value.known) == ("validation", ("train",))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ValueError('Instruction "validation" corresponds to no data!'), EmptySplit),
        (ValueError('Unknown split "test".'), SplitNotFound),
        (ValueError("the CSV has a bad row"), type(None)),
        (KeyError("Unknown split"), type(None)),
    ],
)
def test_only_datasets_split_errors_become_signals(error: Exception, expected: type) -> None:
    assert type(prepare.split_problem(error, "validation")) is expected


def test_the_signals_read_as_one_line_naming_the_field(tmp_path: Path) -> None:
    suite = demo_suite(tmp_path)
    unknown = validate.load_failure(suite, "calib", SplitNotFound("calib", ("train", "validation")))
    assert (unknown.field, unknown.message) == (
        "dataset.calibration_split",
        "no split 'calib' in the dataset (splits: ['train', 'validation'])",
    )
    unlisted = validate.load_failure(suite, "validation", SplitNotFound("validation"))
    assert (unlisted.field, unlisted.message) == ("dataset.eval_split", "no split 'validation' in the dataset")
    empty = validate.load_failure(suite, "validation", EmptySplit("validation"))
    assert (empty.field, empty.message) == ("dataset.eval_split", "split 'validation' is empty")
    other = validate.load_failure(suite, "train", ValueError("the CSV has a bad row"))
    assert (other.field, other.message) == ("dataset", "datasets cannot load split 'train': the CSV has a bad row")
