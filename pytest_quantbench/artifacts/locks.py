"""A lock per cache entry that never hangs in silence.

The lock is an advisory `flock` on a file under `<cache>/locks/`; its holder writes who it is (pid, host,
since when) into that file. A process waiting for it says who holds it after a few seconds, and again
every half minute; says so when the holder is stopped (SIGSTOP, Ctrl-Z), which keeps the lock until it is
resumed; breaks the lock, with a warning, when the holder's process is gone (a lock still held by a child
that inherited it); and gives up with one line after `timeout` seconds (`--quantbench-lock-timeout`).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from pytest_quantbench import faults
from pytest_quantbench.errors import CacheError
from pytest_quantbench.progress import Progress, say

DEFAULT_TIMEOUT = 600.0  # seconds; 0 waits as long as it takes
FIRST_NOTE = 5.0  # seconds of waiting before the first line saying who holds the lock
EVERY = 30.0  # seconds between the lines that follow
POLL = (0.05, 0.5)  # seconds between tries: the first, and the most it grows to
BREAK_LOCK = ".break.lock"  # held while a dead holder's lock is broken, so two waiters never both break it

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 1 << 20, os.SEEK_SET)  # a byte far past the holder record, which stays readable
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 1 << 20, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    def _wait_lock(fd: int) -> None:
        while not _try_lock(fd):
            time.sleep(POLL[0])

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

    def _wait_lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as the holder wrote it."""

    pid: int
    host: str
    since: float  # seconds since the epoch

    @classmethod
    def me(cls) -> Holder:
        return cls(os.getpid(), socket.gethostname(), time.time())

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), float(data["since"]))
        except (ValueError, KeyError, TypeError):
            return None  # not written yet, or by an older version

    def dump(self) -> str:
        return json.dumps({"pid": self.pid, "host": self.host, "since": self.since})

    @property
    def local(self) -> bool:
        return self.host == socket.gethostname()

    def alive(self) -> bool:
        """False only when the process is known to be gone (on another host nothing is known)."""
        if not self.local:
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except OSError:  # another user's process: it exists
            return True
        return True

    def stopped(self) -> bool:
        """Stopped by SIGSTOP or Ctrl-Z (Linux's /proc; elsewhere not known)."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        return self.local and stat.rsplit(")", 1)[-1].split()[:1] in (["T"], ["t"])

    def line(self) -> str:
        since = time.strftime("%H:%M:%S", time.localtime(self.since))
        return f"pid {self.pid} on {self.host} since {since} ({time.time() - self.since:.0f} s ago)"


class EntryLock:
    """`with EntryLock(path, "export/abc", timeout, progress):` the entry's build, one process at a time."""

    def __init__(self, path: Path, what: str, timeout: float = DEFAULT_TIMEOUT, progress: Progress = say) -> None:
        self.path, self.what, self.timeout, self.progress = path, what, timeout, progress
        self._fd: int | None = None

    def __enter__(self) -> EntryLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise CacheError(f"cannot lock cache entry {self.what}: {faults.describe(exc) or exc}") from None

    def acquire(self) -> None:
        start = time.monotonic()
        next_note, poll, dead = start + FIRST_NOTE, POLL[0], None
        while True:
            fd = self._open()
            if _try_lock(fd):
                if self._same_file(fd):
                    self._fd = fd
                    with suppress(OSError):  # who holds it is for the waiters' lines; the lock is held
                        _write(fd, Holder.me().dump())
                    return
                _unlock(fd)  # a waiter broke a dead holder's lock between the open and the lock: try again
                os.close(fd)
                continue
            holder = Holder.parse(_read(fd))
            os.close(fd)
            now = time.monotonic()
            if holder is not None and not holder.alive():
                if dead == holder and self._break(holder):
                    continue
                dead = holder  # seen gone twice, a poll apart, before it is broken
            if self.timeout and now - start >= self.timeout:
                raise CacheError(self._timed_out(holder))
            if now >= next_note:
                self.progress(self._waiting(holder, now - start))
                next_note = now + EVERY
            time.sleep(poll)
            poll = min(poll * 2, POLL[1])

    def _same_file(self, fd: int) -> bool:
        """The file locked is still the one at the path (a waiter may have broken a dead holder's lock)."""
        try:
            return os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except OSError:
            return False

    def release(self) -> None:
        if self._fd is None:
            return
        with suppress(OSError):
            _write(self._fd, "")  # no stale holder for the next waiter to read
        _unlock(self._fd)
        os.close(self._fd)
        self._fd = None

    def _break(self, holder: Holder) -> bool:
        """Remove the lock file of a holder whose process is gone; the next try locks a fresh file."""
        try:
            guard = os.open(self.path.parent / BREAK_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            return False  # it is waited for like a live holder's, and the timeout still applies
        try:
            _wait_lock(guard)
            fd = self._open()
            try:
                if Holder.parse(_read(fd)) != holder or os.fstat(fd).st_ino != os.stat(self.path).st_ino:
                    return False  # another waiter broke it first, or a live process took it
                os.unlink(self.path)
            finally:
                os.close(fd)
        except OSError:
            return False
        finally:
            _unlock(guard)
            os.close(guard)
        self.progress(
            f"quantbench: warning: the lock on cache entry {self.what} was held by {holder.line()}, "
            "a process that is gone: lock broken"
        )
        return True

    def _waiting(self, holder: Holder | None, waited: float) -> str:
        who = holder.line() if holder else "another process (it has not said which)"
        line = f"quantbench: waiting {waited:.0f} s for the lock on cache entry {self.what}, held by {who}"
        if holder is not None and holder.stopped():
            line += (
                f"; that process is stopped (SIGSTOP or Ctrl-Z) and keeps the lock until it is resumed "
                f"(kill -CONT {holder.pid}) or ended"
            )
        limit = f"gives up after {self.timeout:g} s" if self.timeout else "no time limit"
        return f"{line} ({limit}: --quantbench-lock-timeout; lock file {self.path})"

    def _timed_out(self, holder: Holder | None) -> str:
        who = holder.line() if holder else "another process"
        state = " (stopped: kill -CONT it, or end it)" if holder is not None and holder.stopped() else ""
        return (
            f"gave up after {self.timeout:g} s waiting for the lock on cache entry {self.what}, held by {who}{state} "
            f"(--quantbench-lock-timeout; lock file {self.path})"
        )


def _read(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 4096).decode("utf-8", "replace")
    except OSError:
        return ""


def _write(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode())
