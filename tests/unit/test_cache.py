"""The artifact cache: one build per key, nothing half-written or damaged trusted, concurrent builders wait."""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reliability import flip_byte

from pytest_quantbench.artifacts import cache as cache_module
from pytest_quantbench.artifacts import manifest
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


# --- verification: what the cache serves is what it wrote ---------------------------------------------------


def _entry_with(cache: ArtifactCache, files: dict[str, bytes], kind: str = "scores", key: str = "k") -> Path:
    def build(out: Path) -> None:
        for name, data in files.items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)

    return cache.build(kind, key, build)


def test_the_manifest_records_size_and_sha256_of_every_file(tmp_path: Path) -> None:
    entry = _entry_with(ArtifactCache(tmp_path), {"scores.json": b'{"accuracy": 1.0}', "sub/logits.npy": b"\x00" * 64})
    recorded = json.loads((entry / MANIFEST).read_text())
    assert recorded["format"] == manifest.FORMAT
    assert recorded["files"]["scores.json"] == {
        "size": 17,
        "sha256": hashlib.sha256(b'{"accuracy": 1.0}').hexdigest(),
    }
    assert set(recorded["files"]) == {"scores.json", "sub/logits.npy"}


@pytest.mark.parametrize("name", ["scores.json", "predictions.json", "logits.npy"])
def test_a_flipped_bit_is_one_warning_naming_entry_and_file_then_a_rebuild(tmp_path: Path, name: str) -> None:
    lines: list[str] = []
    cache = ArtifactCache(tmp_path, progress=lines.append)
    files = {"scores.json": b'{"accuracy": 0.0}', "predictions.json": b"[0, 1, 1, 0]", "logits.npy": bytes(range(64))}
    entry = _entry_with(cache, files)
    flip_byte(entry / name)
    assert cache.get("scores", "k") is None
    assert cache.get("scores", "k") is None  # said once per entry
    assert lines == [
        f"quantbench: warning: cache entry scores/k ({entry}): {name} changed content (its sha256 differs from the "
        "manifest's): rebuilding it"
    ]
    rebuilt = _entry_with(cache, files)
    assert {n: (rebuilt / n).read_bytes() for n in files} == files
    assert [b["kind"] for b in cache.builds()] == ["scores", "scores"]


def test_a_large_file_is_hashed_once_per_process_and_a_change_is_still_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manifest, "LARGE_FILE", 1024)
    cache = ArtifactCache(tmp_path, progress=lambda line: None)
    entry = _entry_with(cache, {"model.onnx": b"w" * 4096, "config.json": b"{}"}, kind="export")
    hashed: list[str] = []
    real = manifest.hashlib.sha256

    def counting(*args: object) -> object:
        hashed.append("x")
        return real(*args)

    monkeypatch.setattr(manifest.hashlib, "sha256", counting)
    for _ in range(3):
        assert cache.get("export", "k") == entry
    assert len(hashed) == 3  # config.json on every read; model.onnx was hashed when it was written
    flip_byte(entry / "model.onnx")  # a write: new mtime and ctime, so the remembered hash no longer applies
    assert cache.get("export", "k") is None


def test_an_entry_written_by_an_older_version_is_rebuilt_once_with_one_line(tmp_path: Path) -> None:
    lines: list[str] = []
    cache = ArtifactCache(tmp_path, progress=lines.append)
    for key in ("a", "b"):
        entry = _entry_with(cache, {"model.onnx": b"old"}, kind="export", key=key)
        (entry / MANIFEST).write_text(json.dumps({"kind": "export", "key": key, "files": {"model.onnx": 3}}))
    assert cache.get("export", "a") is None and cache.get("export", "b") is None
    assert len(lines) == 1 and "written by an older pytest-quantbench, without file hashes" in lines[0]
    rebuilt = cache.build("export", "a", write_file("model.onnx", "new"))
    assert (rebuilt / "model.onnx").read_text() == "new" and cache.get("export", "a") == rebuilt


def test_an_unreadable_entry_is_rebuilt_not_a_traceback(tmp_path: Path) -> None:
    lines: list[str] = []
    cache = ArtifactCache(tmp_path, progress=lines.append)
    entry = _entry_with(cache, {"model.onnx": b"x"}, kind="export")
    (entry / MANIFEST).unlink()
    (entry / MANIFEST).mkdir()  # reading it fails with an OSError, as a chmod 000 entry does for a non-root user
    (entry / MANIFEST / "junk").write_text("x")
    rebuilt = cache.build("export", "k", write_file("model.onnx", "whole"))
    assert (rebuilt / "model.onnx").read_text() == "whole"
    assert len(lines) == 1 and f"cache entry export/k ({entry}): {MANIFEST} cannot be read" in lines[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 folder")
def test_a_chmod_000_entry_is_rebuilt(tmp_path: Path) -> None:
    lines: list[str] = []
    cache = ArtifactCache(tmp_path, progress=lines.append)
    entry = _entry_with(cache, {"model.onnx": b"x"}, kind="export")
    entry.chmod(0)
    rebuilt = cache.build("export", "k", write_file("model.onnx", "whole"))
    assert (rebuilt / "model.onnx").read_text() == "whole"
    assert "permission denied" in lines[0]


def test_a_damaged_entry_that_cannot_be_removed_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ArtifactCache(tmp_path, progress=lambda line: None)
    entry = _entry_with(cache, {"model.onnx": b"x"}, kind="export")
    flip_byte(entry / "model.onnx", 0)
    monkeypatch.setattr(cache_module.shutil, "rmtree", lambda path: None)  # as for a folder of another user
    with pytest.raises(CacheError) as info:
        cache.build("export", "k", write_file("model.onnx", "whole"))
    assert str(info.value).startswith(f"cannot replace the damaged cache entry export/k: {entry} cannot be removed")
    assert "quantbench cache prune --damaged" in str(info.value) and "\n" not in str(info.value)


def test_an_input_the_builder_cannot_read_is_named_not_blamed_on_the_cache(tmp_path: Path) -> None:
    def build(out: Path) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", "/models/m/model.safetensors")

    with pytest.raises(CacheError.__base__) as info:  # BuildError: one line in a case
        ArtifactCache(tmp_path).build("export", "k", build)
    assert str(info.value) == (
        "while building export/k: /models/m/model.safetensors: permission denied "
        "(check its owner and mode: this user cannot use it)"
    )


# --- verify and prune ---------------------------------------------------------------------------------------


def test_verify_and_prune_find_and_remove_damaged_and_unused_entries(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path, progress=lambda line: None)
    good = _entry_with(cache, {"a.bin": b"1" * 10}, key="good")
    bad = _entry_with(cache, {"a.bin": b"2" * 10}, key="bad")
    old = _entry_with(cache, {"a.bin": b"3" * 10}, key="old")
    flip_byte(bad / "a.bin")
    (tmp_path / "tmp" / "scores-gone-1234abcd").mkdir()  # an interrupted build's folder
    long_ago = time.time() - 40 * 86400
    os.utime(old, (long_ago, long_ago))
    found = [(e.name, manifest.check(e, full=True)) for e in cache.entries()]
    assert [(name, f.damage if f else None) for name, f in found] == [
        ("bad", manifest.Damage.CONTENT), ("good", None), ("old", None),
    ]  # fmt: skip
    pruned = list(cache.prune(damaged=True, unused_days=30))
    assert [(p.path.name, p.removed) for p in pruned] == [("bad", True), ("old", True), ("scores-gone-1234abcd", True)]
    assert list(cache.entries()) == [good]


def test_prune_leaves_an_entry_whose_lock_is_held(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path, progress=lambda line: None)
    bad = _entry_with(cache, {"a.bin": b"2" * 10}, key="busy")
    flip_byte(bad / "a.bin")
    holder = _hold_lock(tmp_path / "locks" / "scores-busy.lock")
    try:
        pruned = list(cache.prune(damaged=True, unused_days=None))
    finally:
        holder.kill()
        holder.wait()
    assert [(p.path, p.removed) for p in pruned] == [(bad, False)] and bad.exists()


def _hold_lock(path: Path) -> subprocess.Popen:
    """A child process holding the lock file `path` until killed."""
    code = (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(600)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def test_a_long_build_gives_what_it_freed_back_and_a_short_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_quantbench import heap

    released: list[str] = []
    monkeypatch.setattr(heap, "release", lambda: released.append("released"))
    cache = ArtifactCache(tmp_path)
    cache.build("kind", "short", lambda out: (out / "f").write_text("x"))
    assert released == []
    monkeypatch.setattr(heap, "HEAVY_BUILD_S", 0.0)  # every build is long now
    cache.build("kind", "long", lambda out: (out / "f").write_text("x"))
    assert released == ["released"]
