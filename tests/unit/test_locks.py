"""Locks that cannot hang in silence: who holds a lock is said while waiting, a stopped holder is named, a holder
that is gone is broken with a warning, and the wait ends with one line after the timeout."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pytest_quantbench
from pytest_quantbench.artifacts import locks
from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.artifacts.locks import EntryLock, Holder
from pytest_quantbench.errors import CacheError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock")

PACKAGE_ROOT = str(Path(pytest_quantbench.__file__).parents[1])
HOLD = """
import fcntl, json, os, sys, time
from pathlib import Path
from pytest_quantbench.artifacts.locks import EntryLock

path, fake_pid = Path(sys.argv[1]), int(sys.argv[2])
if fake_pid:  # a holder record naming a process that is gone (the lock is held by its child, say)
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, json.dumps({"pid": fake_pid, "host": sys.argv[3], "since": time.time()}).encode())
else:
    EntryLock(path, "export/k").acquire()
print("held", flush=True)
time.sleep(600)
"""


def _hold(path: Path, fake_pid: int = 0) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT}
    args = [sys.executable, "-c", HOLD, str(path), str(fake_pid), socket.gethostname()]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def _end(proc: subprocess.Popen) -> None:
    proc.kill()  # SIGKILL ends a stopped process too
    proc.wait(30)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines after 0.2 s of waiting and then every 0.3 s, instead of 5 s and 30 s."""
    monkeypatch.setattr(locks, "FIRST_NOTE", 0.2)
    monkeypatch.setattr(locks, "EVERY", 0.3)


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen]]:
    path = tmp_path / "export-k.lock"
    proc = _hold(path)
    try:
        yield path, proc
    finally:
        _end(proc)


def test_the_holder_records_pid_host_and_time_and_clears_them_on_release(tmp_path: Path) -> None:
    path = tmp_path / "a.lock"
    with EntryLock(path, "export/a"):
        holder = Holder.parse(path.read_text())
        assert holder is not None and (holder.pid, holder.host) == (os.getpid(), socket.gethostname())
    assert path.read_text() == ""


def test_a_wait_says_who_holds_the_lock_and_keeps_saying_it_then_gives_up_in_one_line(
    held: tuple[Path, subprocess.Popen], quick: None
) -> None:
    path, proc = held
    lines: list[str] = []
    with pytest.raises(CacheError) as info:
        EntryLock(path, "export/k", timeout=1.0, progress=lines.append).acquire()
    assert len(lines) >= 2  # said, and said again
    assert all(f"for the lock on cache entry export/k, held by pid {proc.pid} on {socket.gethostname()}" in line
               for line in lines)  # fmt: skip
    assert "stopped" not in lines[0]
    message = str(info.value)
    assert message.startswith("gave up after 1 s waiting for the lock on cache entry export/k, held by pid")
    assert "--quantbench-lock-timeout" in message and "\n" not in message


def test_a_stopped_holder_is_named_as_stopped(held: tuple[Path, subprocess.Popen], quick: None) -> None:
    path, proc = held
    os.kill(proc.pid, signal.SIGSTOP)
    lines: list[str] = []
    with pytest.raises(CacheError, match=r"\(stopped: kill -CONT it, or end it\)"):
        EntryLock(path, "export/k", timeout=0.6, progress=lines.append).acquire()
    assert (
        f"that process is stopped (SIGSTOP or Ctrl-Z) and keeps the lock until it is resumed (kill -CONT {proc.pid})"
        in lines[0]
    )


def test_a_lock_whose_holder_is_gone_is_broken_with_a_warning(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    path = tmp_path / "export-k.lock"
    proc = _hold(path, fake_pid=gone.pid)  # still holds the flock, but says the holder is `gone`
    lines: list[str] = []
    try:
        with EntryLock(path, "export/k", timeout=30, progress=lines.append):
            assert Holder.parse(path.read_text()).pid == os.getpid()  # type: ignore[union-attr]
    finally:
        _end(proc)
    assert len(lines) == 1
    held_by = (
        f"quantbench: warning: the lock on cache entry export/k was held by pid {gone.pid} on {socket.gethostname()}"
    )
    assert lines[0].startswith(held_by) and lines[0].endswith(", a process that is gone: lock broken")


def test_a_lock_path_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    (tmp_path / "locks" / "export-k.lock").mkdir(parents=True)
    with pytest.raises(CacheError) as info:
        cache.build("export", "k", lambda out: None)
    assert str(info.value) == (
        f"cannot lock cache entry export/k: {tmp_path / 'locks' / 'export-k.lock'}: a directory, not a file"
    )


def test_a_wait_without_a_limit_ends_when_the_holder_ends(tmp_path: Path, quick: None) -> None:
    path = tmp_path / "export-k.lock"
    proc = _hold(path)
    lines: list[str] = []

    def end_holder(line: str) -> None:
        lines.append(line)
        _end(proc)  # the kernel releases its lock

    with EntryLock(path, "export/k", timeout=0, progress=end_holder):
        pass
    assert "no time limit" in lines[0]


def test_holder_records_from_other_versions_or_half_written_are_not_trusted() -> None:
    assert Holder.parse("") is None
    assert Holder.parse('{"pid": 1') is None
    assert Holder.parse(json.dumps({"pid": "x", "host": "h", "since": 0})) is None
    assert Holder(1, "elsewhere", 0).alive()  # nothing is known of another host's processes
