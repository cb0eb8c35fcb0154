"""Probes forked from a server that has imported the engine: one server a run, the same figures as a spawned
child, and a dead or stuck server never costs the run its probe."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_memory_probe import WIDTH, _matmul_model

from pytest_quantbench.runtimes import memory_probe, probe_server

pytestmark = pytest.mark.skipif(not probe_server.available(), reason="forks probes on Linux only")
FEEDS = {f"bs{b}": {"x": np.ones((b, WIDTH), np.float32)} for b in (1, 256)}


@pytest.fixture(autouse=True)
def _no_server_left() -> Iterator[None]:
    probe_server.close_all()
    yield
    probe_server.close_all()


def _spawned(model: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    with monkeypatch.context() as patch:
        patch.setattr(probe_server, "available", lambda: False)
        return memory_probe.probe(model, 1, 1, False, FEEDS)


def test_one_server_measures_every_probe_of_its_engine(tmp_path: Path) -> None:
    model = _matmul_model(tmp_path / "m.onnx")
    first = memory_probe.probe(model, 1, 1, False, FEEDS)
    server = probe_server._servers["onnxruntime"].process.pid
    second = memory_probe.probe(model, 1, 1, False, FEEDS)
    assert probe_server._servers["onnxruntime"].process.pid == server
    assert set(first) == set(second) == {"bs1", "bs256"}
    # the 1 MB weight and a 256-row run (1 MB of activations at least) are measured by each forked child
    assert all(s.load_peak_bytes >= 2**20 for s in (*first.values(), *second.values()))
    assert second["bs256"].run_peak_bytes >= 2**20


def test_a_forked_child_reads_what_a_spawned_one_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _matmul_model(tmp_path / "m.onnx")
    forked, spawned = memory_probe.probe(model, 1, 1, False, FEEDS), _spawned(model, monkeypatch)
    for shape in FEEDS:  # the same session, net of each child's own baseline: within a few pages of the heap
        assert abs(forked[shape].load_peak_bytes - spawned[shape].load_peak_bytes) < 2 * 2**20
        assert abs(forked[shape].run_peak_bytes - spawned[shape].run_peak_bytes) < 2 * 2**20


def test_a_server_that_died_is_replaced(tmp_path: Path) -> None:
    model = _matmul_model(tmp_path / "m.onnx")
    memory_probe.probe(model, 1, 1, False, FEEDS)
    dead = probe_server._servers["onnxruntime"].process
    os.kill(dead.pid, signal.SIGKILL)
    dead.wait()
    assert set(memory_probe.probe(model, 1, 1, False, FEEDS)) == {"bs1", "bs256"}
    assert probe_server._servers["onnxruntime"].process.pid != dead.pid


def test_a_server_that_cannot_start_gives_way_to_a_spawned_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probe_server, "MODULE", "pytest_quantbench.no_such_server")
    found = memory_probe.probe(_matmul_model(tmp_path / "m.onnx"), 1, 1, False, FEEDS)
    assert set(found) == {"bs1", "bs256"} and "onnxruntime" not in probe_server._servers
    # not tried again in the run (a failed start can cost an engine's whole import): the next probe spawns
    assert "onnxruntime" in probe_server._refused
    started = []
    monkeypatch.setattr(probe_server, "Server", lambda *args: started.append(args))
    assert set(memory_probe.probe(tmp_path / "m.onnx", 1, 1, False, FEEDS)) == {"bs1", "bs256"} and not started


def test_what_a_server_prints_never_lands_among_its_answers() -> None:
    """A library that prints on stdout at import (or in a child) would otherwise be read as an answer."""
    import subprocess
    import sys

    script = (
        "from pytest_quantbench.runtimes import probe_server\n"
        "answers = probe_server.answer_pipe()\n"
        "print('a library talking')\n"
        "answers.write('ready\\n'); answers.flush()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout == "ready\n" and "a library talking" in done.stderr


def test_a_probe_past_its_time_is_one_line_and_its_server_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _matmul_model(tmp_path / "m.onnx")
    memory_probe.probe(model, 1, 1, False, FEEDS)  # the server is up: what times out is the probe itself
    server = probe_server._servers["onnxruntime"].process
    monkeypatch.setattr(memory_probe, "TIMEOUT_S", 0.001)
    with pytest.raises(memory_probe.ProbeError, match=r"^the probe took over 0.001 s$"):
        memory_probe.probe(model, 1, 1, False, FEEDS)
    assert server.wait(timeout=5) == -signal.SIGKILL and "onnxruntime" not in probe_server._servers


def test_a_failing_child_reports_its_last_stderr_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(memory_probe.ProbeError) as exc:
        memory_probe.probe(broken, 1, 1, False, FEEDS)
    assert str(broken) in str(exc.value) and "\n" not in str(exc.value)
    assert "onnxruntime" in probe_server._servers  # a failed probe leaves its server serving


def test_a_relative_path_is_read_from_the_callers_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server started in another directory; a spawned child would start in the caller's."""
    memory_probe.probe(_matmul_model(tmp_path / "m.onnx"), 1, 1, False, FEEDS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _matmul_model(elsewhere / "relative.onnx")
    monkeypatch.chdir(elsewhere)
    assert set(memory_probe.probe(Path("relative.onnx"), 1, 1, False, FEEDS)) == {"bs1", "bs256"}
