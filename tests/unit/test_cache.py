"""The artifact cache: one build per key, nothing half-written trusted, concurrent builders wait."""

from __future__ import annotations

import errno
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from pytest_quantbench.artifacts.cache import MANIFEST, ArtifactCache, digest, hash_files
from pytest_quantbench.errors import CacheError


def write_file(name: str, text: str):
    def build(out: Path) -> None:
        (out / name).write_text(text)

    return build


def test_builds_once_and_reuses(tmp_path: Path) -> None:
    cache, calls = ArtifactCache(tmp_path), []

    def build(out: Path) -> None:
        calls.append(out)
        (out / "model.onnx").write_bytes(b"x" * 10)

    first = cache.build("export", "k1", build)
    second = cache.build("export", "k1", build)
    assert first == second == tmp_path / "export" / "k1"
    assert len(calls) == 1
    assert [(b["kind"], b["key"]) for b in cache.builds()] == [("export", "k1")]
    assert (first / MANIFEST).exists()
    assert not list((tmp_path / "tmp").iterdir())


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)

    def broken(out: Path) -> None:
        (out / "model.onnx").write_text("half")
        raise RuntimeError("killed mid-build")

    with pytest.raises(RuntimeError):
        cache.build("export", "k", broken)
    assert cache.get("export", "k") is None
    assert not list((tmp_path / "tmp").iterdir())
    assert cache.build("export", "k", write_file("model.onnx", "whole")).joinpath("model.onnx").read_text() == "whole"


@pytest.mark.parametrize("damage", ["truncate", "drop_manifest", "delete_file"])
def test_damaged_entry_is_not_trusted(tmp_path: Path, damage: str) -> None:
    cache = ArtifactCache(tmp_path)
    entry = cache.build("export", "k", write_file("model.onnx", "0123456789"))
    if damage == "truncate":
        (entry / "model.onnx").write_text("01")
    elif damage == "drop_manifest":
        (entry / MANIFEST).unlink()
    else:
        (entry / "model.onnx").unlink()
    assert cache.get("export", "k") is None
    rebuilt = cache.build("export", "k", write_file("model.onnx", "rebuilt"))
    assert (rebuilt / "model.onnx").read_text() == "rebuilt"


def _slow_build(root: str, log: str) -> None:
    def build(out: Path) -> None:
        with open(log, "a") as fh:
            fh.write("build\n")
        time.sleep(0.5)
        (out / "model.onnx").write_text("done")

    entry = ArtifactCache(root).build("export", "shared", build)
    assert (entry / "model.onnx").read_text() == "done"


def test_concurrent_processes_build_once(tmp_path: Path) -> None:
    log = tmp_path / "log"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_slow_build, args=(str(tmp_path / "c"), str(log))) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert log.read_text() == "build\n"


def test_unwritable_cache_gives_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(CacheError, match="cannot write the quantbench cache"):
        ArtifactCache(blocker / "cache").build("export", "k", write_file("a", "b"))


def test_a_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    def full(out: Path) -> None:
        (out / "model.onnx").write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    cache = ArtifactCache(tmp_path)
    with pytest.raises(CacheError, match=r"while building export/k: No space left on device"):
        cache.build("export", "k", full)
    assert cache.get("export", "k") is None
    assert not list((tmp_path / "tmp").iterdir())


def test_keys_and_hashes_follow_content(tmp_path: Path) -> None:
    assert digest("a", {"x": 1}) == digest("a", {"x": 1}) != digest("a", {"x": 2})
    (tmp_path / "w.bin").write_bytes(b"1")
    before = hash_files(tmp_path)
    (tmp_path / "w.bin").write_bytes(b"2")
    assert hash_files(tmp_path) != before
