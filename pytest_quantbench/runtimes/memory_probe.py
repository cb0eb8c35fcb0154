"""Peak resident memory of loading and running one session (ONNX Runtime, a PyTorch model, or an OpenVINO IR
compiled for the CPU), measured in a short child process.

In the run's own process the figures would hold everything else it keeps (datasets, other sessions, torch),
so a child measures them: it imports onnxruntime and reads the feeds, takes what it holds then as the
baseline (resetting the peak to it), opens the session with the harness's own `open_session` (threads, the
role's optimization level, precision option) and reads the peak (the load peak), hands what loading freed
back to the OS and resets the peak to what the loaded session holds, then runs each timing feed twice,
smallest first, reading the peak after each (the run peak up to that shape: ONNX Runtime's arena keeps what a
call allocated for the next). Every figure is net of the baseline. Linux reads VmRSS/VmHWM and resets the
peak through /proc/self/clear_refs; elsewhere `ru_maxrss`, the baseline being the peak so far and the run
peaks including the load's. A decoder's phases come as `Steps` instead: shapes in the order given, each after
its feeds in turn (a generation: its prompt, then its last step; `measure.phases.memory_steps`).

`python -m pytest_quantbench.runtimes.memory_probe DIR` is the child; `probe` is the parent's side. On Linux the
child is forked from a server that has imported its engine already (`probe_server`: an interpreter's start and
torch's import cost more than most probes measure), else spawned. The child
opens an ONNX Runtime session, a PyTorch model or a compiled OpenVINO model (`ENGINES`; `probe_engine`), and
`measured` keeps the figures in the cache.
"""

from __future__ import annotations

import json
import os
import signal
import site
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_quantbench.heap import release_free_heap
from pytest_quantbench.records import MemoryStats
from pytest_quantbench.runtimes import probe_server

if TYPE_CHECKING:
    from pytest_quantbench.artifacts.cache import ArtifactCache

FORMAT = 3  # part of the cache key: bump when what is measured changes (2: the heap trimmed after loading;
# 3: the harness's own modules imported before the baseline, as a forked child has them)
STEPS_FORMAT = 1  # part of the key of `Steps`: bump when what a decoder's phase measures changes
MODULE = "pytest_quantbench.runtimes.memory_probe"
SPEC, RESULT = "probe.json", "memory.json"
MEMORY_FILE = "memory.json"  # a cache entry's figures
CALLS_PER_FEED = 2  # ONNX Runtime plans its memory pattern on the first call and allocates by it from the second
TIMEOUT_S = 300
ROOT = Path(__file__).resolve().parents[2]  # where this copy of the package is imported from


Feed = dict[str, Any]  # input name -> array


@dataclass(frozen=True)
class Steps:
    """Shapes measured in the order given (not smallest first), each one's figure read after its feeds have run
    in turn: a decoder's phases, whose own order says what each figure includes (`measure.phases`)."""

    runs: dict[str, tuple[Feed, ...]]  # shape id -> its feeds, in the order they run


Feeds = Mapping[str, Feed] | Steps  # what a probe measures: one feed a shape, smallest first, or `Steps`


def steps_of(feeds: Feeds) -> Steps:
    """`Steps` of `feeds`; one feed a shape is measured smallest first (by element count)."""
    if isinstance(feeds, Steps):
        return feeds
    import numpy as np

    order = sorted(feeds, key=lambda shape: sum(np.asarray(v).size for v in feeds[shape].values()))
    return Steps({shape: (feeds[shape],) for shape in order})


class ProbeError(Exception):
    """The child could not measure: one line saying why."""


class MemoryProbeWarning(UserWarning):
    """A model's peak memory was not measured; its case runs on without it."""


# --- the child -------------------------------------------------------------------------------------------


def _status() -> dict[str, int]:
    """VmRSS and VmHWM of this process in bytes (Linux), or nothing elsewhere."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return {}
    fields = (line.partition(":") for line in text.splitlines())
    return {k: int(v.split()[0]) * 1024 for k, _, v in fields if k in ("VmRSS", "VmHWM")}


def peak() -> int:
    """The peak resident memory of this process so far, in bytes."""
    found = _status()
    if "VmHWM" in found:
        return found["VmHWM"]
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024  # bytes on macOS, KiB elsewhere


def reset_peak() -> int:
    """Reset the peak to the current resident memory where the OS allows, and return the baseline later peaks
    are net of: that memory, or the peak so far where the peak cannot be reset."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status()["VmRSS"]
    except (OSError, KeyError):
        return peak()


def _import_onnxruntime() -> None:
    import onnxruntime  # noqa: F401  (part of the baseline, as what opens the session is)

    from pytest_quantbench.runtimes import onnxruntime as _  # noqa: F401


def _open_onnxruntime(spec: dict[str, Any]) -> Any:
    from pytest_quantbench.runtimes.onnxruntime import open_session
    from pytest_quantbench.suite import FrameworkArgs

    args = FrameworkArgs(x64_quant_precision=spec["x64_quant_precision"])
    return open_session(Path(spec["model"]), args, spec["threads"], spec["level"])


def _import_pytorch() -> None:
    import torch  # noqa: F401  (part of the baseline, as what loads the model is)
    import transformers  # noqa: F401

    from pytest_quantbench.runtimes import pytorch as _  # noqa: F401


def _open_pytorch(spec: dict[str, Any]) -> Any:
    """The checkpoint as `PyTorch` loads it, with its dynamic int8 when the spec asks for it."""
    import transformers

    from pytest_quantbench.runtimes.pytorch import TorchSession, dynamic_int8

    auto = getattr(transformers, spec["model_class"])
    model = auto.from_pretrained(spec["model"], trust_remote_code=spec.get("trust_remote_code", False)).eval()
    if spec.get("int8") is not None:
        model = dynamic_int8(model, spec["int8"]["operators"], spec["int8"]["per_channel"])
    return TorchSession(model, spec["threads"])


def _import_openvino() -> None:
    import openvino  # noqa: F401  (part of the baseline, as what compiles the model is)

    from pytest_quantbench.runtimes import openvino_settings as _  # noqa: F401


def _open_openvino(spec: dict[str, Any]) -> Any:
    """The IR compiled as the timing session is (threads, latency hint, f32 precision)."""
    from pytest_quantbench.runtimes.openvino_settings import OpenVinoSession, compile_model

    xml = Path(spec["model"])
    return OpenVinoSession(compile_model(xml, spec["threads"]), xml)


# engine -> (what is imported before the baseline is read, how the measured session is opened)
ENGINES: dict[str, tuple[Callable[[], None], Callable[[dict[str, Any]], Any]]] = {
    "onnxruntime": (_import_onnxruntime, _open_onnxruntime),
    "pytorch": (_import_pytorch, _open_pytorch),
    "openvino": (_import_openvino, _open_openvino),
}


def main(argv: list[str]) -> int:
    import numpy as np

    from pytest_quantbench.runtimes.base import inputs_of, run_checked

    work = Path(argv[0])
    spec = json.loads((work / SPEC).read_text())
    imports, opened = ENGINES[spec.get("engine", "onnxruntime")]
    imports()
    runs = [[dict(np.load(work / f"{i}.{j}.npz")) for j in range(n)] for i, n in enumerate(spec["steps"])]
    baseline = reset_peak()
    session = opened(spec)
    load = peak()
    release_free_heap()  # what loading freed is not the session's
    reset_peak()  # run peaks start from what the loaded session holds, not from loading's transient peak
    peaks = {}
    for shape, feeds in zip(spec["shapes"], runs, strict=True):
        for feed in feeds:
            inputs = inputs_of(session, feed)
            for _ in range(CALLS_PER_FEED):
                run_checked(session, inputs)
        peaks[shape] = peak()
    (work / RESULT).write_text(json.dumps({"baseline": baseline, "load": load, "runs": peaks}))
    return 0


# --- the parent ------------------------------------------------------------------------------------------


def parse(raw: dict[str, Any]) -> dict[str, MemoryStats]:
    """The child's raw readings (bytes) as one record per shape, net of the baseline (never below 0)."""
    baseline, load = int(raw["baseline"]), int(raw["load"])
    return {
        shape: MemoryStats(max(load - baseline, 0), max(int(after) - baseline, 0), shape, baseline)
        for shape, after in raw["runs"].items()
    }


def failure(returncode: int, stderr: str) -> str:
    """What a failed child says, on one line: the signal that killed it, or the last line it wrote."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"the probe was killed by signal {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"the probe exited with status {returncode}"


def _env() -> dict[str, str]:
    """The parent's environment, with this copy of the package first on the child's path (an interpreter's
    own site directories stay where they are)."""
    sites = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if ROOT not in sites:
        paths.insert(0, str(ROOT))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def probe(model: Path, threads: int, level: int, x64_quant_precision: bool, feeds: Feeds) -> dict[str, MemoryStats]:
    """Peak memory of loading the ONNX `model` in ONNX Runtime and of running it on each feed (by shape id)."""
    spec = {"engine": "onnxruntime", "model": str(model), "threads": threads, "level": level}
    return probe_engine({**spec, "x64_quant_precision": x64_quant_precision}, feeds)


def _run_child(engine: str, work: Path) -> tuple[int, str]:
    """Run the child on `work`: forked from the engine's server where one runs (`probe_server`), else spawned.
    Its exit status and stderr."""
    if probe_server.available():
        try:
            return probe_server.run(engine, work, _env(), TIMEOUT_S)
        except probe_server.ProbeTimeout:
            raise ProbeError(f"the probe took over {TIMEOUT_S} s") from None
        except (probe_server.ServerGone, OSError):
            pass  # spawned instead, below
    try:
        done = subprocess.run(
            [sys.executable, "-m", MODULE, str(work)], capture_output=True, text=True, timeout=TIMEOUT_S,
            env=_env(), check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ProbeError(f"the probe took over {TIMEOUT_S} s") from None
    except OSError as exc:
        raise ProbeError(f"cannot start the probe: {exc.strerror or exc}") from None
    return done.returncode, done.stderr


def probe_engine(spec: dict[str, Any], feeds: Feeds) -> dict[str, MemoryStats]:
    """Peak memory of opening the session `spec` describes (its `engine`: a key of `ENGINES`) and of running it
    on each feed (by shape id; `Steps`: on each shape's feeds in turn), in one child process."""
    import numpy as np

    runs = steps_of(feeds).runs
    with tempfile.TemporaryDirectory(prefix="quantbench-memory-") as tmp:
        work = Path(tmp)
        try:
            for i, steps in enumerate(runs.values()):
                for j, feed in enumerate(steps):
                    np.savez(work / f"{i}.{j}.npz", **feed)
            order = {"shapes": list(runs), "steps": [len(steps) for steps in runs.values()]}
            (work / SPEC).write_text(json.dumps({**spec, **order}))
        except OSError as exc:
            raise ProbeError(f"cannot hand the inputs to the probe in {work}: {exc.strerror or exc}") from None
        returncode, stderr = _run_child(spec.get("engine", "onnxruntime"), work)
        if returncode != 0:
            raise ProbeError(failure(returncode, stderr))
        try:
            return parse(json.loads((work / RESULT).read_text()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProbeError(f"unreadable probe result: {exc}") from None


def _shapes(feed: Feed) -> dict[str, list[Any]]:
    return {k: [str(v.dtype), list(v.shape)] for k, v in sorted(feed.items())}


def shapes_of(feeds: Feeds) -> dict[str, Any]:
    """Each feed's input dtypes and shapes: what a memory entry's key holds of its feeds; of `Steps`, each
    shape's steps, the order they are measured in and `STEPS_FORMAT` too."""
    if not isinstance(feeds, Steps):
        return {shape: _shapes(feed) for shape, feed in feeds.items()}
    runs = {shape: [_shapes(feed) for feed in steps] for shape, steps in feeds.runs.items()}
    return {"steps": runs, "order": list(feeds.runs), "format": STEPS_FORMAT}


def measured(
    cache: ArtifactCache, key: str, spec: dict[str, Any], feeds: Feeds, model: str
) -> dict[str, MemoryStats] | None:
    """`probe_engine`'s figures kept in the cache under `key` (a warm run spawns nothing); a failed probe is
    one warning naming `model`, and no figures."""
    from pytest_quantbench import serialize

    def build(out: Path) -> None:
        serialize.write(out / MEMORY_FILE, probe_engine(spec, feeds))

    try:
        entry = cache.build("memory", key, build)
    except ProbeError as exc:
        warnings.warn(MemoryProbeWarning(f"peak memory of {model} not measured: {exc}"), stacklevel=1)
        return None
    return serialize.read(entry / MEMORY_FILE, dict[str, MemoryStats])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
