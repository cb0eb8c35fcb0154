"""Hub loads with deadlines, against a broken hub on 127.0.0.1 that answers 404 or never answers.

The hub libraries read HF_ENDPOINT when they are imported, so the loads run in one child process with the
endpoint set; each load is a line of JSON: what it raised, its message, and the progress lines it said.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from reliability import hub_server

import pytest_quantbench
from pytest_quantbench.artifacts import hub

PACKAGE_ROOT = str(Path(pytest_quantbench.__file__).parents[1])
TIMEOUT_S = 1  # the hub time-out the child runs with
LOADS = [
    ("model", "org/missing-model"),
    ("model", "org/silent-model"),
    ("dataset", "org/missing-data"),
    ("dataset", "org/silent-data"),
    ("metric", "missing_metric"),
    ("metric", "silent_metric"),
]
CHILD = """
import json, sys, time
from pytest_quantbench.artifacts import hub, sources
from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.data import prepare
from pytest_quantbench.suite import DatasetSpec
from pytest_quantbench.tasks import metrics

lines = []
hub.configure(float(sys.argv[1]), attempts=2, progress=lines.append)
run = {
    "model": lambda name: sources.hub_model_dir(name, None, lines.append),
    "dataset": lambda name: prepare.load_split(DatasetSpec(path=name), "train", ArtifactCache(sys.argv[2]), lines.append),
    "metric": metrics.load_metric,
}
for kind, name in json.loads(sys.argv[3]):
    lines.clear()
    try:
        run[kind](name)
        raised, message = "nothing", ""
    except Exception as exc:
        raised, message = type(exc).__name__, str(exc)
    print(json.dumps({"load": f"{kind} {name}", "raised": raised, "message": message, "lines": lines}), flush=True)
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    home = tmp_path_factory.mktemp("hf-home")
    with hub_server() as endpoint:
        env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(home), "PYTHONPATH": PACKAGE_ROOT}
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE"):
            env.pop(name, None)
        args = [sys.executable, "-c", CHILD, str(TIMEOUT_S), str(home / "cache"), json.dumps(LOADS)]
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)  # a hang fails here
    assert result.returncode == 0, result.stderr[-3000:]
    found = {row["load"]: {**row, "endpoint": endpoint} for row in map(json.loads, result.stdout.splitlines())}
    assert len(found) == len(LOADS), result.stdout
    return found


@pytest.mark.parametrize(("kind", "name"), [load for load in LOADS if "missing" in load[1]])
def test_a_404_is_one_failing_line_naming_what_and_where(outcomes: dict[str, dict], kind: str, name: str) -> None:
    row = outcomes[f"{kind} {name}"]
    assert row["raised"] == "HubError"
    assert row["message"] == (
        f"{kind} '{name}': not found on the hub at {row['endpoint']} (404): check the name and the revision"
    )
    assert not any("trying again" in line for line in row["lines"])  # a 404 is final


@pytest.mark.parametrize(("kind", "name"), [load for load in LOADS if "silent" in load[1]])
def test_a_hub_that_never_answers_is_given_up_on_with_progress_lines(
    outcomes: dict[str, dict], kind: str, name: str
) -> None:
    row = outcomes[f"{kind} {name}"]
    assert row["raised"] == "HubError"
    assert row["message"] == (
        f"{kind} '{name}': the hub at {row['endpoint']} did not answer within {TIMEOUT_S} s (2 attempts; "
        "--quantbench-hub-timeout or HF_HUB_ETAG_TIMEOUT sets the limit)"
    )
    # a line every time-out while the load waits: "still waiting" or, when the attempt gives up first (which
    # of the two comes first at the same second is up to the scheduler), "timed out ..., trying again"
    assert f"quantbench: {kind} '{name}': timed out at {row['endpoint']} (attempt 1 of 2), trying again" in row["lines"]
    waiting = [line for line in row["lines"] if line.startswith(f"quantbench: {kind} '{name}': still waiting")]
    assert all(f"still waiting for the hub at {row['endpoint']} (" in line for line in waiting)


def test_a_failed_load_fails_again_at_once_and_an_offline_hub_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def refused() -> None:
        calls.append("try")
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(hub, "_settings", hub.HubSettings(0.5, attempts=3))
    monkeypatch.setattr(hub, "_cap_hub_requests", lambda seconds: None)
    for name in hub.OFFLINE:
        monkeypatch.delenv(name, raising=False)
    unreachable = r"^model 'org/x': the Hugging Face hub \(.*\) is unreachable"
    hub.forget_failures()
    try:
        for _ in range(2):
            with pytest.raises(hub.SourceUnavailable, match=unreachable):
                hub.load("model 'org/x'", refused, progress=lambda line: None)
        assert calls == ["try"] * 3  # three attempts, then the remembered line
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        with pytest.raises(hub.SourceUnavailable, match=r"^model 'org/y': the Hugging Face hub is disabled"):
            hub.load("model 'org/y'", refused, progress=lambda line: None)
        assert calls == ["try"] * 4  # switched off: not tried again
    finally:
        hub.forget_failures()


def test_the_limits_come_from_the_option_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    for name in hub.ENV:  # restored after the test, as the environment is
        monkeypatch.setattr(constants, name, getattr(constants, name))
    monkeypatch.setattr(hub, "_settings", None)
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "4")
    monkeypatch.delenv("HF_HUB_DOWNLOAD_TIMEOUT", raising=False)
    assert hub.configure().timeout == hub.DEFAULT_TIMEOUT  # the larger of the two, the unset one at its default
    assert (os.environ["HF_HUB_ETAG_TIMEOUT"], os.environ["HF_HUB_DOWNLOAD_TIMEOUT"]) == ("4", "10")
    monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "30")
    assert hub.configure().timeout == 30
    assert hub.configure(2.5).timeout == 2.5
    assert (os.environ["HF_HUB_ETAG_TIMEOUT"], os.environ["HF_HUB_DOWNLOAD_TIMEOUT"]) == ("3", "3")
    assert (constants.HF_HUB_ETAG_TIMEOUT, constants.HF_HUB_DOWNLOAD_TIMEOUT) == (3, 3)  # read at import: set too
    assert hub._cap((None, 100), 2.5) == (2.5, 2.5) and hub._cap(1, 2.5) == 1 and hub._cap(None, 2.5) == 2.5


HUB_SUITES = {
    "missing.suite.yaml": "model_name_or_path: org/missing-model",
    "silent.suite.yaml": "model_name_or_path: org/silent-model",
    "metric.suite.yaml": "model_name_or_path: builtin:tiny-bert-sentiment\nmetrics: [f1]",
}


def test_the_plugin_fails_each_case_with_one_line_and_says_it_waits(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, qb_cache: Path, tmp_path: Path
) -> None:
    for name, head in HUB_SUITES.items():
        body = 'task: text-classification\ndataset: {path: "builtin:synthetic-sentiment", num_eval_samples: 16}\n'
        pytester.path.joinpath(name).write_text(f"{head}\n{body}fixed: {{quantization_approach: dynamic}}\n")
    with hub_server() as endpoint:
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.setenv("PYTHONPATH", PACKAGE_ROOT)
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", f"--quantbench-cache={qb_cache}", "--quantbench-hub-timeout=1",
            "--benchmark-disable", "-k", "accuracy", timeout=600,
        )  # fmt: skip
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines_random(
        [
            f"missing.suite.yaml::accuracy[[]dynamic[]]: model 'org/missing-model': not found on the hub at {endpoint} "
            "(404): check the name and the revision",
            f"silent.suite.yaml::accuracy[[]dynamic[]]: model 'org/silent-model': the hub at {endpoint} did not answer "
            "within 1 s (3 attempts; --quantbench-hub-timeout or HF_HUB_ETAG_TIMEOUT sets the limit)",
            f"metric.suite.yaml::accuracy[[]dynamic[]]: metric 'f1': not found on the hub at {endpoint} (404): *",
            f"quantbench: model 'org/silent-model': timed out at {endpoint} (attempt 1 of 3), trying again",
        ]
    )
    assert "Traceback" not in result.stdout.str()
