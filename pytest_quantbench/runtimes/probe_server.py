"""Memory probes forked from a process that has already imported their engine.

A probe measures in a process of its own, so that its peaks hold only the session (`memory_probe`). Spawning
that process costs an interpreter's start and the engine's import before anything is measured: 0.3 s for
onnxruntime, 3.4 s for torch with transformers, over the ~50 probes of a cold `pytest benchmarks` about 25 s.
So on Linux each engine gets one server, started on its first probe, that imports the engine and everything the
child measures with, then forks one child per probe. The child is the same fresh measurement (its baseline is
what it holds once forked, the peak reset to it) without the start. The server itself runs nothing: no engine
thread pool exists to be forked half-way (its one other thread is OpenBLAS's idle worker, which numpy starts
and which registers its own fork handlers). A server that cannot start is not tried again in the run, and one
that dies is replaced; either way that probe is spawned and the run goes on. Elsewhere (no `fork`, or not
Linux) every probe spawns.

The protocol: the server reads one request a line on stdin (JSON: the work folder, and the parent's working
directory, which the child enters as a spawned child would start in it: a spec's paths may be relative), forks,
waits, and writes the child's exit status (negative: the signal that killed it, as `subprocess` says) on its
answer pipe, the stdout it started with; its file descriptor 1 then goes to stderr, so that nothing a library
prints lands among the answers. The child writes its stderr to `STDERR` in the work folder.
`python -m pytest_quantbench.runtimes.probe_server ENGINE` is the server.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import IO

MODULE = "pytest_quantbench.runtimes.probe_server"
READY = "ready"
STDERR = "stderr.txt"  # in the work folder: what a forked child wrote on stderr
START_TIMEOUT_S = 120  # importing torch with transformers on a loaded machine


class ServerGone(Exception):
    """The server did not start or stopped answering: the caller spawns the probe instead."""


class ProbeTimeout(Exception):
    """The forked child ran past its time; it and its server were killed."""


def available() -> bool:
    """Whether probes may be forked from a server here: Linux (macOS forks badly once frameworks are loaded)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


# --- the server ------------------------------------------------------------------------------------------

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
TOUCH_CHUNK = 1 << 20  # bytes read at once when faulting a run of pages back in
Runs = list[tuple[int, int]]  # (address, length in bytes) of contiguous resident pages


def resident_file_pages() -> Runs:
    """The runs of this process's resident pages that are mapped from files (the libraries' code and data).

    `fork` does not copy a file mapping's page table entries: the child faults those pages in again as it
    touches them, so without this a forked child's load peak would count the engine's library pages that a
    spawned child had in its baseline (6 MB of onnxruntime's, measured). /proc/self/pagemap's bit 63 says
    which pages are present."""
    import numpy as np

    runs: Runs = []
    with open("/proc/self/maps") as maps, open("/proc/self/pagemap", "rb") as pagemap:
        for line in maps:
            fields = line.split()
            if len(fields) < 6 or fields[4] == "0" or "r" not in fields[1]:
                continue  # anonymous memory is copied by fork; an unreadable mapping cannot be touched
            start, end = (int(x, 16) for x in fields[0].split("-"))
            pagemap.seek(start // PAGE * 8)
            entries = np.frombuffer(pagemap.read((end - start) // PAGE * 8), dtype=np.uint64)
            present = np.flatnonzero(entries >> np.uint64(63))
            if present.size:
                breaks = np.flatnonzero(np.diff(present) != 1) + 1
                for run in np.split(present, breaks):
                    runs.append((start + int(run[0]) * PAGE, int(run.size) * PAGE))
    return runs


def touch(runs: Runs) -> None:
    """Fault each run's pages into this process (pages the server holds: they lie within their files)."""
    import ctypes

    for address, length in runs:
        for offset in range(0, length, TOUCH_CHUNK):
            ctypes.string_at(address + offset, min(TOUCH_CHUNK, length - offset))


def _child(work: str, cwd: str, resident: Runs) -> None:
    """The forked child: in the parent's `cwd`, the server's library pages faulted back in, then the
    measurement in `work`, with stderr (and any stray stdout) in its file; never returns."""
    from pytest_quantbench.runtimes import memory_probe

    code = 1
    try:
        fd = os.open(Path(work) / STDERR, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.chdir(cwd)
        os.dup2(fd, 2)
        os.dup2(fd, 1)  # stdout is the server's answer pipe: nothing of the child's may land there
        touch(resident)
        code = memory_probe.main([work])
    except BaseException:  # the child reports every failure as its last stderr line
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)  # not the server's atexit handlers, nor its buffered stdout


def forked(work: str, cwd: str, resident: Runs) -> int:
    """Run the probe in `work` in a forked child working in `cwd`; its exit status (negative: killed by a
    signal)."""
    pid = os.fork()
    if pid == 0:
        _child(work, cwd, resident)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def serve(engine: str, requests: IO[str], answers: IO[str]) -> int:
    """Import `engine` once, then answer each request read from `requests` with its forked child's status."""
    import numpy  # noqa: F401  (what every child reads its feeds with)

    from pytest_quantbench.runtimes import base, memory_probe  # noqa: F401

    memory_probe.ENGINES[engine][0]()
    resident = resident_file_pages()
    answers.write(READY + "\n")
    answers.flush()
    for line in requests:
        if line.strip():
            request = json.loads(line)
            answers.write(f"{forked(request['work'], request['cwd'], resident)}\n")
            answers.flush()
    return 0


# --- the parent ------------------------------------------------------------------------------------------


def answer_pipe() -> IO[str]:
    """The server's answers on the stdout it started with, kept apart: file descriptor 1 then points at stderr,
    so that a library printing on stdout (at import, or in a child) cannot corrupt them."""
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return answers


class Server:
    """One engine's server process, as the parent drives it."""

    def __init__(self, engine: str, env: dict[str, str]) -> None:
        # its own session: a timeout kills the server and the child it waits on together
        self.process = subprocess.Popen(
            [sys.executable, "-m", MODULE, engine],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            start_new_session=True,
        )
        try:
            started = self._answer(START_TIMEOUT_S) == READY
        except (TimeoutError, ServerGone):
            started = False
        if not started:
            self.close()
            raise ServerGone(f"the {engine} probe server did not start")

    def _answer(self, timeout: float) -> str:
        stdout = self.process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], timeout)
        if not ready:
            raise TimeoutError
        line = stdout.readline()
        if not line:
            raise ServerGone("the probe server stopped")
        return line.strip()

    def run(self, work: Path, timeout: float) -> tuple[int, str]:
        """The exit status and stderr of the probe in `work`, measured by a child forked from this server."""
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps({"work": str(work), "cwd": os.getcwd()}) + "\n")
            stdin.flush()
            answer = self._answer(timeout)
        except TimeoutError:
            self.close()
            raise ProbeTimeout from None
        except (OSError, ValueError) as exc:  # a broken pipe: the server died between probes
            raise ServerGone(str(exc)) from None
        if not answer.lstrip("-").isdigit():
            raise ServerGone(f"the probe server answered {answer!r}")
        stderr = work / STDERR
        return int(answer), stderr.read_text(errors="replace") if stderr.exists() else ""

    def close(self) -> None:
        """Stop the server and any child it is waiting on."""
        if self.process.poll() is None:  # a session leader: its pid is its group's
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError, ValueError):
                pipe and pipe.close()


_servers: dict[str, Server] = {}
_refused: set[str] = set()  # engines whose server did not start: their probes spawn for the rest of the run
_lock = threading.Lock()


def run(engine: str, work: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """The probe in `work` run by `engine`'s server (started on first use): its exit status and stderr.

    Raises `ServerGone` where no server can run it (the caller spawns the probe) and `ProbeTimeout` past
    `timeout`."""
    with _lock:
        if engine in _refused:
            raise ServerGone(f"the {engine} probe server did not start")
        server = _servers.get(engine)
        if server is None or server.process.poll() is not None:
            if server is not None:
                server.close()  # died between probes: its pipes go with it
            try:
                server = _servers[engine] = Server(engine, env)
            except ServerGone:
                _servers.pop(engine, None)
                _refused.add(engine)
                raise
        try:
            return server.run(work, timeout)
        except (ServerGone, ProbeTimeout):
            _servers.pop(engine, None)
            server.close()
            raise


@atexit.register
def close_all() -> None:
    """Stop every server this process started (and try again any that could not start)."""
    with _lock:
        _refused.clear()
        while _servers:
            _servers.popitem()[1].close()


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.stdin, answer_pipe()))
