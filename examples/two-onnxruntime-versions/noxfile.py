"""Two small suites under two ONNX Runtime versions, then what changed between them (`quantbench compare`).

    cd examples/two-onnxruntime-versions
    nox                                    # both versions, then the comparison
    nox -s compare                         # the comparison again, from the saved runs

Each `suite` session installs pytest-quantbench (from this checkout, with the offline zoo) and pins one
onnxruntime version, then runs the suites with `--benchmark-json runs/onnxruntime-<version>.json`. The
`compare` session prints what changed underneath (the engine versions, the machine), and per config whether
its quantized graph, its quality or its speed changed, then both runs' metrics and latencies (`--force`: a
latency table across int8 kernels is otherwise refused, since other kernels are what an upgrade brings).
Artifacts are cached by library version, so both sessions share one `.quantbench` cache safely.
"""

from __future__ import annotations

from pathlib import Path

import nox

VERSIONS = ["1.20.1", "1.32.0"]  # oldest first: `compare` reads the first as the saved run
HERE = Path(__file__).parent
PROJECT = HERE.parents[1]  # this repository's root; outside it, install "pytest-quantbench[zoo]" instead
RUNS = HERE / "runs"
SUITES = ["ort-upgrade-bert.suite.yaml", "ort-upgrade-vit.suite.yaml"]

nox.options.sessions = ["suite", "compare"]
nox.options.reuse_existing_virtualenvs = True


@nox.session(python="3.11")
@nox.parametrize("onnxruntime", VERSIONS)
def suite(session: nox.Session, onnxruntime: str) -> None:
    session.install(f"{PROJECT}[zoo]", f"onnxruntime=={onnxruntime}")
    RUNS.mkdir(exist_ok=True)
    session.run(
        "pytest", *SUITES, "-p", "no:cacheprovider", "--quantbench-cache=.quantbench",
        f"--benchmark-json={RUNS / f'onnxruntime-{onnxruntime}.json'}",
        success_codes=[0, 1],  # a failing case is a finding to compare, not a reason to stop
    )  # fmt: skip


@nox.session(python="3.11")
def compare(session: nox.Session) -> None:
    session.install(str(PROJECT))
    runs = [str(RUNS / f"onnxruntime-{version}.json") for version in VERSIONS]
    session.run("quantbench", "compare", *runs, "--force", *session.posargs)
