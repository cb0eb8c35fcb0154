"""Faults a user meets, through the plugin and the command line: each is a warning and a rebuild, or one line.

- Every cached kind (scores, predictions, logits, the fp32 export, the quantized model, a built dataset),
  damaged by one flipped bit, is said once and rebuilt; the run's result is the clean run's.
- A stopped process holding a cache entry's lock fails the case with one line after
  `--quantbench-lock-timeout`.
- Output options naming a path that cannot be written, and saved runs that are folders or not JSON objects,
  are one usage line before anything is computed; an unreadable weights file and a corrupt tokenizer.json are
  one line naming the file.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tiny_models as tm
from reliability import flip_byte

import pytest_quantbench
from pytest_quantbench import cli
from pytest_quantbench.artifacts import locks, sources
from pytest_quantbench.artifacts.cache import MANIFEST

PACKAGE_ROOT = str(Path(pytest_quantbench.__file__).parents[1])
SUITE = """
    name: damage
    task: text-classification
    model_name_or_path: builtin:tiny-bert-sentiment
    dataset: {path: "builtin:synthetic-sentiment", eval_split: validation, num_eval_samples: 64}
    fixed:
      quantization_approach: dynamic
      operators_to_quantize: [Add, MatMul]
      framework_args: {opset: 13, optimization_level: 1}
"""
ACCURACY = ("--benchmark-disable", "-k", "accuracy")
# (kind, file): one entry of each cached kind, damaged by one flipped bit (a built dataset: its eval split),
# in this order: a rebuilt dataset has new files, so the scores computed from it have new keys.
DAMAGE = [
    ("scores", "scores.json"),
    ("scores", "predictions.json"),
    ("scores", "evidence.npz"),
    ("export", "model.onnx"),
    ("quantize", "model_quantized.onnx"),
    ("builtin", "validation.jsonl"),
]


def _row(out: str) -> str:
    """The summary row of the suite's one config: its scores, evidence and verdict."""
    return next(line for line in out.splitlines() if line.startswith("damage "))


def _used(entry: Path) -> bool:
    """An entry the suite reads (the session's cache may hold other built-in datasets)."""
    meta = json.loads((entry / MANIFEST).read_text())
    return entry.parent.name != "builtin" or meta.get("name") in ("synthetic-sentiment", "tiny-bert-sentiment")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, qb_cache: Path) -> Path:
    """A cache holding every entry of the suite (the built-in model and data copied from the session's cache)."""
    root = tmp_path_factory.mktemp("clean")
    for kind in ("builtin", "fetched"):
        if (qb_cache / kind).is_dir():
            shutil.copytree(qb_cache / kind, root / "cache" / kind)
    return root / "cache"


@pytest.fixture(scope="module")
def clean_row(clean: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("clean-run")
    (folder / "damage.suite.yaml").write_text(textwrap.dedent(SUITE))
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--quantbench-cache={clean}", *ACCURACY]
    result = subprocess.run(
        args, cwd=folder, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": PACKAGE_ROOT}
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return _row(result.stdout)


@pytest.mark.parametrize(("kind", "name"), DAMAGE, ids=[f"{k}-{n}" for k, n in DAMAGE])
def test_a_damaged_entry_of_each_kind_is_said_and_rebuilt_never_served(
    suite_file, run, clean: Path, clean_row: str, kind: str, name: str
) -> None:
    cache = clean  # in place: the entries' keys hold their paths (a dataset's fingerprint), and each run repairs
    entry = next(e for e in sorted((cache / kind).iterdir()) if (e / name).is_file() and _used(e))
    flip_byte(entry / name)
    suite_file("damage.suite.yaml", SUITE)
    result = run(f"--quantbench-cache={cache}", *ACCURACY)
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    warning = f"quantbench: warning: cache entry {kind}/{entry.name} ({entry}): {name} changed content"
    assert out.count(warning) == 1, out
    assert _row(out) == clean_row  # the rebuilt entry's result, not the damaged one's
    assert any(b["kind"] == kind and b["key"] == entry.name for b in map(json.loads, (cache / "builds.jsonl").open()))


def test_a_stopped_lock_holder_fails_the_case_with_one_line_after_the_timeout(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks, "FIRST_NOTE", 0.5)
    cache = tmp_path / "cache"
    (cache / "locks").mkdir(parents=True)
    code = (
        "import sys, time; from pathlib import Path; from pytest_quantbench.artifacts.locks import EntryLock; "
        "EntryLock(Path(sys.argv[1]), 'demo/k').acquire(); print('held', flush=True); time.sleep(600)"
    )
    env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT}
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(cache / "locks" / "demo-k.lock")], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        os.kill(holder.pid, signal.SIGSTOP)
        pytester.makepyfile(
            test_demo="""
            def test_build(quantbench):
                quantbench.cache.build("demo", "k", lambda out: (out / "a").write_text("b"))
            """
        )
        result = pytester.runpytest(
            "-p", "no:cacheprovider", f"--quantbench-cache={cache}", "--quantbench-lock-timeout=2"
        )
    finally:
        holder.kill()
        holder.wait(30)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert f"held by pid {holder.pid}" in out and "that process is stopped (SIGSTOP or Ctrl-Z)" in out
    result.stdout.fnmatch_lines(
        [
            f"test_demo.py::test_build: gave up after 2 s waiting for the lock on cache entry demo/k, held by pid "
            f"{holder.pid} on * (stopped: kill -CONT it, or end it) (--quantbench-lock-timeout; lock file *)"
        ]
    )
    assert "Traceback" not in out


@pytest.fixture
def own_model(pytester: pytest.Pytester) -> Path:
    """A tiny local model and CSV data, with a suite file using them."""
    model = tm.text_model(pytester.path / "model")
    for split, count in (("train", 16), ("validation", 12)):
        (pytester.path / "data").mkdir(exist_ok=True)
        with (pytester.path / "data" / f"{split}.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["sentence", "label"])
            writer.writeheader()
            writer.writerows(tm.sentences(count, seed=len(split)))
    (pytester.path / "own.suite.yaml").write_text(
        textwrap.dedent("""
        task: text-classification
        model_name_or_path: ./model
        dataset:
          path: csv
          data_files: {train: data/train.csv, validation: data/validation.csv}
        fixed: {quantization_approach: dynamic}
        """)
    )
    return model


def test_a_corrupt_tokenizer_json_is_one_line_naming_it(own_model: Path, run, tmp_path: Path) -> None:
    text = (own_model / "tokenizer.json").read_text()
    (own_model / "tokenizer.json").write_text(text[: len(text) // 2])
    result = run(f"--quantbench-cache={tmp_path / 'cache'}", *ACCURACY)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"own.suite.yaml::accuracy[[]dynamic[]]: *own.suite.yaml: model_name_or_path: {own_model / 'tokenizer.json'}: "
            "not valid JSON (*): the file is truncated or corrupt; restore or re-download it"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_an_unreadable_weights_file_is_one_line_naming_it(
    own_model: Path, run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = own_model / "model.safetensors"
    if os.geteuid() == 0:  # root reads a chmod 000 file: the error it would meet is raised where it is read
        real = sources.hash_files

        def denied(root: Path, *args: object) -> str:
            if root == own_model:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(weights))
            return real(root, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(sources, "hash_files", denied)
    else:
        weights.chmod(0)
    result = run(f"--quantbench-cache={tmp_path / 'cache'}", *ACCURACY)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [f"*accuracy[[]dynamic[]]: *own.suite.yaml: model_name_or_path: {weights}: permission denied (check its owner*"]
    )


@pytest.mark.parametrize(
    ("option", "make", "problem"),
    [
        ("--benchmark-json", lambda p: (p / "out").mkdir(), "{p}/out: a directory, not a file"),
        (
            "--benchmark-json",
            lambda p: (p / "out").write_text("x"),
            "{p}/out: a part of the path is a file, not a folder",
        ),
        ("--quantbench-card", lambda p: None, "{p}/out: no such file or directory"),
        ("--quantbench-plot", lambda p: (p / "out").mkdir(), "{p}/out: a directory, not a file"),
        ("--quantbench-html", lambda p: (p / "out").mkdir(), "{p}/out: a directory, not a file"),
    ],
    ids=["json-is-a-folder", "json-under-a-file", "card-in-a-missing-folder", "plot-is-a-folder", "html-is-a-folder"],
)
def test_an_output_path_that_cannot_be_written_is_one_usage_line_at_start(
    pytester: pytest.Pytester, suite_file, run, option: str, make, problem: str
) -> None:
    suite_file("damage.suite.yaml", SUITE)
    make(pytester.path)
    target = "out" if "a directory" in problem else "out/result.file"
    result = run(f"{option}={pytester.path / target}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: {option}: {problem.format(p=pytester.path)}" in result.stderr.str()


def test_a_saved_run_that_is_a_folder_or_not_an_object_is_one_line(pytester: pytest.Pytester, suite_file, run) -> None:
    suite_file("damage.suite.yaml", SUITE)
    (pytester.path / "runs").mkdir()
    (pytester.path / "list.json").write_text("[1, 2]")
    result = run("--quantbench-compare=runs")
    assert result.ret == pytest.ExitCode.USAGE_ERROR and "INTERNALERROR" not in result.stderr.str()
    assert (
        "ERROR: --quantbench-compare: runs: a directory, not a file (give a saved run's JSON file"
        in result.stderr.str()
    )
    result = run("--quantbench-compare=list.json", "--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--quantbench-compare: list.json: not a saved run (its JSON is a list, not an object)" in result.stderr.str()


def test_the_command_line_says_one_line_for_each_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "list.json").write_text("[]")
    assert cli.main(["compare", str(tmp_path / "list.json"), str(tmp_path / "list.json")]) == 2
    assert (
        capsys.readouterr().err
        == f"error: {tmp_path / 'list.json'}: not a saved run (its JSON is a list, not an object)\n"
    )
    assert cli.main(["compare", str(tmp_path), str(tmp_path / "list.json")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path}: a directory, not a file")
    assert cli.main(["schema", "-o", str(tmp_path / "missing" / "s.json")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'missing' / 's.json'}: no such file or directory\n"


def test_cache_verify_and_prune(
    clean: Path, clean_row: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = Path(shutil.copytree(clean, tmp_path / "cache"))
    assert cli.main(["cache", "verify", "--cache", str(cache)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(": 0 damaged")
    entry = sorted((cache / "export").iterdir())[0]
    flip_byte(entry / "model.onnx")
    assert cli.main(["cache", "verify", "--cache", str(cache)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == f"damaged: cache entry export/{entry.name} ({entry}): model.onnx changed content (its sha256 differs from the manifest's)"
    )
    assert lines[1].endswith(
        f": 1 damaged; `quantbench cache prune --damaged --cache {cache}` removes them, a run rebuilds them"
    )
    assert cli.main(["cache", "prune", "--damaged", "--cache", str(cache)]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(f"removed: cache entry export/{entry.name}")
    assert not entry.exists()
    assert cli.main(["cache", "verify", "--cache", str(cache)]) == 0
    assert cli.main(["cache", "prune", "--cache", str(cache)]) == 2  # nothing asked for
    assert cli.main(["cache", "verify", "--cache", str(tmp_path)]) == 2  # not a cache: nothing is touched
    assert "is not a quantbench cache" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--quantbench-lock-timeout=soon", "expected a number of seconds (at least 0), got 'soon'"),
        ("--quantbench-lock-timeout=-1", "expected a number of seconds (at least 0), got '-1'"),
        ("--quantbench-hub-timeout=0", "expected a number of seconds (more than 0), got '0'"),
    ],
)
def test_a_bad_timeout_is_one_usage_line(pytester: pytest.Pytester, option: str, message: str) -> None:
    result = pytester.runpytest("-p", "no:cacheprovider", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"error: argument {option.split('=')[0]}: {message}" in result.stderr.str()
