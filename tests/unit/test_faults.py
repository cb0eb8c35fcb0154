"""The one fault mapping: each file-system, format and network fault reads as one line naming what is wrong."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from pytest_quantbench import faults
from pytest_quantbench.errors import BuildError, SourceUnavailable
from pytest_quantbench.faults import NetFault


def os_error(code: int, path: str = "/data/x.bin") -> OSError:
    return OSError(code, os.strerror(code), path)


def wrapped(inner: BaseException, outer: BaseException) -> BaseException:
    """`outer` raised from `inner`, as libraries wrap the error that says what happened."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as exc:
        return exc


FILE_FAULTS = [
    (os_error(errno.EISDIR, "out.json"), "out.json: a directory, not a file"),
    (
        os_error(errno.EACCES, "/m/model.safetensors"),
        "/m/model.safetensors: permission denied (check its owner and mode",
    ),
    (os_error(errno.ENOTDIR, "/a-file/x.json"), "/a-file/x.json: a part of the path is a file, not a folder"),
    (os_error(errno.ELOOP, "/d/loop"), "/d/loop: a loop of symbolic links"),
    (os_error(errno.ENOSPC), "/data/x.bin: no space left on the device"),
    (OSError(errno.ENOSPC, "No space left on device"), "no space left on the device"),
    (os_error(errno.EROFS), "/data/x.bin: on a read-only file system"),
    (
        wrapped(os_error(errno.EACCES, "/m/vocab.txt"), RuntimeError("could not load")),
        "/m/vocab.txt: permission denied",
    ),
    (json.JSONDecodeError("Expecting value", "[", 1), "not valid JSON (Expecting value: line 1 column 2 (char 1))"),
    (Exception("EOF while parsing a string at line 1 column 300"), "not valid JSON (EOF while parsing a string at"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "not UTF-8 text"),
    (type("SafetensorError", (Exception,), {})("Error while deserializing header"), "not a valid safetensors file"),
    (type("InvalidProtobuf", (Exception,), {})("Load model failed"), "not a valid ONNX file"),
]


@pytest.mark.parametrize(("error", "line"), FILE_FAULTS, ids=[line.split(" (")[0][:40] for _, line in FILE_FAULTS])
def test_each_file_fault_is_one_line(error: BaseException, line: str) -> None:
    described = faults.describe(error)
    assert described is not None and described.startswith(line) and "\n" not in described


def test_an_unknown_error_is_left_alone_its_traceback_is_worth_more() -> None:
    assert faults.describe(KeyError("x")) is None
    assert faults.describe(RuntimeError("something broke")) is None


def test_a_corrupt_json_file_in_a_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "tokenizer.json").write_text('{"model": {"vocab": "unterminated')
    line = faults.describe(Exception("EOF while parsing a string at line 1 column 33"), tmp_path)
    assert line is not None and line.startswith(f"{tmp_path / 'tokenizer.json'}: not valid JSON (Unterminated string")


def test_guard_words_a_known_fault_and_lets_the_rest_through(tmp_path: Path) -> None:
    denied = r"^suite.yaml: model_name_or_path: /m/w: permission denied"
    with pytest.raises(faults.FaultError, match=denied), faults.guard("suite.yaml: model_name_or_path"):
        raise os_error(errno.EACCES, "/m/w")
    with pytest.raises(ZeroDivisionError), faults.guard("s"):
        1 / 0  # noqa: B018
    with pytest.raises(SourceUnavailable, match=r"^as it was$"), faults.guard("s"):
        raise SourceUnavailable("as it was")  # already one line
    assert issubclass(faults.FaultError, BuildError)  # so a case reports it as one line


class HTTPError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"{code} Client Error")
        self.response = type("Response", (), {"status_code": code})()


def named(name: str, base: type[Exception] = Exception) -> type[Exception]:
    return type(name, (base,), {})


NETWORK = [
    (wrapped(HTTPError(404), named("LocalEntryNotFoundError")("check your connection")), NetFault.NOT_FOUND),
    (named("RepositoryNotFoundError")("404"), NetFault.NOT_FOUND),
    (FileNotFoundError("Module 'bleu' doesn't exist on the Hugging Face Hub either."), NetFault.NOT_FOUND),
    (HTTPError(401), NetFault.DENIED),
    (wrapped(named("ReadTimeout")("Read timed out"), named("LocalEntryNotFoundError")("x")), NetFault.TIMEOUT),
    (TimeoutError("no answer in 2 s"), NetFault.TIMEOUT),
    (HTTPError(503), NetFault.SERVER),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), NetFault.UNREACHABLE),
    (named("OfflineModeIsEnabled", ConnectionError)("offline"), NetFault.OFFLINE),
    (ValueError('Unknown split "test"'), None),
]


@pytest.mark.parametrize(("error", "fault"), NETWORK, ids=[f"{type(e).__name__}-{f}" for e, f in NETWORK])
def test_network_faults_are_classified_through_the_chain(error: BaseException, fault: NetFault | None) -> None:
    assert faults.network(error) is fault


def test_only_an_offline_or_unreachable_hub_skips_and_only_transient_faults_are_retried() -> None:
    assert {f for f in NetFault if f.skips} == {NetFault.OFFLINE, NetFault.UNREACHABLE}
    assert {f for f in NetFault if f.retried} == {NetFault.TIMEOUT, NetFault.SERVER, NetFault.UNREACHABLE}


def test_output_paths_are_checked_for_real(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "folder").mkdir()
    assert faults.cannot_write(tmp_path / "run.json") is None
    assert not list(tmp_path.glob(".quantbench-write-check-*"))  # the probe file is gone
    assert faults.cannot_write(tmp_path / "folder") == f"{tmp_path / 'folder'}: a directory, not a file"
    assert (
        faults.cannot_write(tmp_path / "missing" / "run.json") == f"{tmp_path / 'missing'}: no such file or directory"
    )
    assert faults.cannot_write(tmp_path / "a-file" / "run.json") == (
        f"{tmp_path / 'a-file'}: a part of the path is a file, not a folder"
    )
    assert faults.cannot_write(tmp_path / "a-file") is None and (tmp_path / "a-file").read_text() == "x"
    assert faults.cannot_read(tmp_path / "folder") == f"{tmp_path / 'folder'}: a directory, not a file"
    assert faults.cannot_read(tmp_path / "a-file") is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_an_unwritable_folder_is_found_before_the_run(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert (
        faults.cannot_write(locked / "card.md")
        == f"{locked}: permission denied (check its owner and mode: this user cannot use it)"
    )
