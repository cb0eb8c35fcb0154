"""What a suite's model, dataset and data files name on disk: each way a path can be wrong is named, a bare
name is a folder beside the suite or a hub id, and a folder found only in the current directory is refused
with how to write it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from pytest_quantbench.suite import load_suite
from pytest_quantbench.suite.paths import is_hub_id, local_data_problem, path_problem, source_problem
from pytest_quantbench.suite.vocabulary import PACKAGED_BUILDERS

RELATIVE = "(relative paths start at the suite's folder)"


@pytest.mark.parametrize("value", ["gpt2", "bert-base-uncased", "google/bert_uncased_L-2_H-128_A-2", "a.b/c-d"])
def test_hub_ids(value: str) -> None:
    assert is_hub_id(value)


@pytest.mark.parametrize("value", ["models/tiny/bert", "my model", "-model", "model.", "a--b", "a..b", "a/", "a\\b"])
def test_not_hub_ids(value: str) -> None:
    assert not is_hub_id(value)


def test_each_path_fault_is_named(tmp_path: Path) -> None:
    (tmp_path / "loop-a").symlink_to(tmp_path / "loop-b")
    (tmp_path / "loop-b").symlink_to(tmp_path / "loop-a")
    (tmp_path / "dangling").symlink_to("nowhere")
    os.mkfifo(tmp_path / "pipe")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        assert path_problem(tmp_path / "sock") == "not a regular file or folder (a socket)"
    assert path_problem(tmp_path / "loop-a") == "a symlink loop"
    assert path_problem(tmp_path / "dangling") == "a broken symlink (to nowhere)"
    assert path_problem(tmp_path / "missing") == "no such file or directory"
    assert path_problem(tmp_path / "pipe") == "not a regular file or folder (a named pipe)"
    assert path_problem(Path("/dev/zero")) == "not a regular file or folder (a character device)"
    assert path_problem(tmp_path) is None


def test_a_value_spelled_as_a_path_must_be_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert source_problem("./missing", tmp_path) == {"message": f"no such file or directory: ./missing {RELATIVE}"}
    assert source_problem("./loop", tmp_path) == {"message": f"a symlink loop: ./loop {RELATIVE}"}
    assert source_problem("/dev/zero", tmp_path) == {
        "message": "not a regular file or folder (a character device): /dev/zero"
    }
    assert source_problem("models/tiny/bert", tmp_path) == {
        "message": f"no such file or directory: models/tiny/bert {RELATIVE}, and not a hub id (name or namespace/name)"
    }


def test_a_bare_name_is_the_folder_beside_the_suite_else_a_hub_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suites = tmp_path / "suites"
    (suites / "model").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert source_problem("model", suites) is None  # the folder beside the suite
    assert source_problem("gpt2", suites) is None  # a hub id: nothing of that name here
    assert source_problem("builtin:tiny-bert-sentiment", suites) is None
    assert source_problem("csv", suites, PACKAGED_BUILDERS) is None
    (suites / "looped").symlink_to(suites / "looped")
    assert source_problem("looped", suites) == {"message": f"a symlink loop: {suites / 'looped'}"}


def test_a_bare_name_found_only_in_the_current_directory_is_a_misspelt_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suites = tmp_path / "suites"
    suites.mkdir()
    (tmp_path / "model").mkdir()
    monkeypatch.chdir(tmp_path)
    hint = f"{RELATIVE}, but {tmp_path / 'model'} exists: write it as ../model"
    assert source_problem("model", suites) == {"message": f"no folder 'model' beside the suite file {hint}"}
    assert source_problem("./model", suites) == {"message": f"no such file or directory: ./model {hint}"}
    monkeypatch.chdir(suites)  # the suite's own folder: nothing to point at
    assert source_problem("model", suites) is None


def test_local_data_files_must_be_files(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("sentence,label\n")
    files = {"train": "train.csv", "validation": "/dev/zero"}
    assert local_data_problem("csv", files, None, tmp_path) == {
        "field": "dataset.data_files.validation",
        "message": "not a regular file or folder (a character device): /dev/zero",
    }
    assert local_data_problem("csv", "*.csv", None, tmp_path) is None  # globs are left to datasets
    assert local_data_problem("csv", None, "images", tmp_path) == {
        "field": "dataset.data_dir",
        "message": f"no such file or directory: images {RELATIVE}",
    }
    assert local_data_problem("glue", {"train": "missing.csv"}, None, tmp_path) is None  # files of a hub repo


def test_a_dataset_path_is_checked_at_collection(tmp_path: Path) -> None:
    path = tmp_path / "s.suite.yaml"
    path.write_text("task: text-classification\nmodel_name_or_path: gpt2\ndataset: {path: ./data}\n")
    with pytest.raises(Exception, match=r"dataset\.path: no such file or directory: \./data"):
        load_suite(path)
