"""Reports from real runs (pytester, tiny built-in model): the JSON key, card and plot of a run, and the
accuracy gate against a saved run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import PER_CHANNEL_GRID, SENTIMENT
from pytest_quantbench import cli


def test_run_writes_quantbench_json_card_plot_and_headline(suite_file, run, pytester: pytest.Pytester) -> None:
    suite_file("sentiment.suite.yaml", PER_CHANNEL_GRID)
    result = run(
        "-v", "--benchmark-json=run.json", "--quantbench-card=card.md", "--quantbench-plot=plot.png",
        "--quantbench-html=report.html",
    )  # fmt: skip
    result.assert_outcomes(passed=2 + 1 + 2)
    result.stdout.fnmatch_lines(
        [
            "*= quantbench =*",
            "suite*config*metric original->quantized (change)*speed-up vs fp32*verdict",
            "tiny-sentiment  per_tensor *accuracy 1.000->1.000 (+0.000) *x*PASS",
            "card written to card.md",
            "HTML report written to report.html",
            "plot written to plot.png",
        ]
    )
    report = (pytester.path / "report.html").read_text()
    assert '<table class="sortable" id="table-0">' in report and '<svg id="svg-0" class="chart"' in report
    assert report.count('<details id="case-tiny-sentiment-') == 2
    data = json.loads((pytester.path / "run.json").read_text())
    ours = data["quantbench"]
    assert [c["id"] for c in ours["suites"][0]["configs"]] == ["per_tensor", "per_channel"]
    assert {a["config_id"]: a["metrics"]["accuracy"]["quantized"] for a in ours["accuracy"]} == {
        "per_tensor": 1.0,
        "per_channel": 1.0,
    }
    assert {"cpu", "vnni", "engines"} <= ours["machine"].keys()
    (engine,) = ours["machine"]["engines"]  # the run's engines: its suites' backends
    assert (
        engine["name"] == "onnxruntime" and engine["line"] == f"onnxruntime {engine['version']} (CPUExecutionProvider)"
    )
    info = next(b["extra_info"] for b in data["benchmarks"] if b["extra_info"]["role"] == "quantized")
    assert info["latency"]["p50_ms"] <= info["latency"]["p90_ms"] <= info["latency"]["p99_ms"]

    text = (pytester.path / "card.md").read_text()
    assert "Below, time metrics for batch size = 1, input length = 16." in text
    assert "| latency_mean (original, ms) | latency_mean (quantized, ms) |" in text
    # The card of the saved file is the card of the run.
    assert cli.main(["card", str(pytester.path / "run.json"), "-o", str(pytester.path / "again.md")]) == 0
    assert (pytester.path / "again.md").read_text() == text
    assert (pytester.path / "plot.png").read_bytes().startswith(b"\x89PNG")
    assert (pytester.path / "plot.png").stat().st_size > 20_000


def _csv_suite(suite_file, pytester: pytest.Pytester, qb_cache: Path, flip_every: int | None) -> None:
    """The tiny model on a csv copy of its data; `flip_every` flips every n-th eval label (a worse model, as
    a commit that regressed accuracy would look), under the same suite name and config id."""
    from pytest_quantbench.artifacts.cache import ArtifactCache
    from pytest_quantbench.zoo import builtins

    cache = ArtifactCache(qb_cache)
    model = builtins.model_dir("tiny-bert-sentiment", cache)
    source = builtins.dataset_dir("synthetic-sentiment", cache)
    rows = [json.loads(line) for line in (source / "validation.jsonl").read_text().splitlines()][:100]
    name = f"validation-flip{flip_every}.csv"
    with open(pytester.path / name, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "label"])
        writer.writeheader()
        for i, r in enumerate(rows):
            flip = flip_every is not None and i % flip_every == 0
            writer.writerow({"text": r["sentence"], "label": 1 - r["label"] if flip else r["label"]})
    suite_file(
        "sst.suite.yaml",
        f"""
        name: sst
        task: text-classification
        model_name_or_path: {model}
        dataset: {{path: csv, data_files: {{validation: {name}}}, data_keys: {{primary: text}}, ref_keys: [label]}}
        fixed: {{operators_to_quantize: [MatMul]}}
        benchmarked: {{per_channel: [false]}}
    """,
    )


def _accuracy(path: Path) -> float:
    return json.loads(path.read_text())["quantbench"]["accuracy"][0]["metrics"]["accuracy"]["quantized"]


def test_compare_gate_fails_a_regressed_config_with_both_numbers_and_passes_otherwise(
    suite_file, run, pytester: pytest.Pytester, qb_cache: Path
) -> None:
    untimed = ("--benchmark-disable", "-k", "accuracy", "--benchmark-storage=store")
    _csv_suite(suite_file, pytester, qb_cache, flip_every=None)
    result = run(*untimed, "--benchmark-autosave", "--quantbench-card=card.md")
    result.assert_outcomes(passed=1)
    (saved_file,) = (pytester.path / "store").rglob("0001_*.json")  # saved though nothing was timed
    saved = _accuracy(saved_file)
    assert "## Time metrics\nNot timed in this run." in (pytester.path / "card.md").read_text()

    gate = ("--quantbench-compare=latest", "--quantbench-compare-fail=accuracy:0.005", "--benchmark-json=now.json")
    _csv_suite(suite_file, pytester, qb_cache, flip_every=10)
    result = run(*untimed, *gate)
    result.assert_outcomes(failed=1)
    now = _accuracy(pytester.path / "now.json")
    assert now < saved - 0.05
    result.stdout.fnmatch_lines(
        [
            f"*sst.suite.yaml::accuracy[[]per_tensor[]]: accuracy {saved:.3f} in saved run {saved_file.name} -> "
            f"{now:.3f} now (drop {saved - now:.3f} > accuracy:0.005)",
            "*= quantbench compare =*",
            f"quantized metrics against saved run {saved_file.name}:",
            f"sst *per_tensor *accuracy *{saved:.3f} *{now:.3f} *{now - saved:+.3f} *FAIL (drop > 0.005)",
        ]
    )
    assert "Traceback" not in result.stdout.str()

    _csv_suite(suite_file, pytester, qb_cache, flip_every=None)
    result = run(*untimed, *gate)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"sst *per_tensor *accuracy *{saved:.3f} *{saved:.3f} *+0.000 *ok"])


def test_compare_with_a_missing_run_is_a_usage_error(suite_file, run) -> None:
    suite_file("sentiment.suite.yaml", SENTIMENT)
    result = run("--co", "--quantbench-compare=nothing.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--quantbench-compare: no saved run matches 'nothing.json'*"])


def test_a_latency_run_reads_accuracy_from_the_score_cache_not_from_the_case_order(
    suite_file, run, pytester: pytest.Pytester, qb_cache: Path
) -> None:
    """`-m latency` (or an xdist worker) runs no accuracy case: a latency row's metrics come from the score cache
    when both models are scored there, and nothing is evaluated for them; else the row says not evaluated."""
    from pytest_quantbench.artifacts.cache import ArtifactCache

    suite_file("sentiment.suite.yaml", PER_CHANNEL_GRID.replace("num_eval_samples: 200", "num_eval_samples: 61"))

    def accuracy_of_int8(path: str) -> list:
        rows = json.loads((pytester.path / path).read_text())["benchmarks"]
        return [b["extra_info"]["accuracy"] for b in rows if b["extra_info"]["role"] == "quantized"]

    before = run("-m", "latency", "--benchmark-json=before.json", "-W", "ignore::UserWarning")
    before.assert_outcomes(passed=3)
    assert accuracy_of_int8("before.json") == [None, None]  # scores of 61 samples: in no cache yet
    before.stdout.fnmatch_lines(["tiny-sentiment  per_tensor *not evaluated *x* -"])

    run("-m", "accuracy", "--benchmark-disable", "--benchmark-json=accuracy.json").assert_outcomes(passed=2)
    scored = sum(b["kind"] == "scores" for b in ArtifactCache(qb_cache).builds())
    after = run("-m", "latency", "--benchmark-json=after.json", "-W", "ignore::UserWarning")
    after.assert_outcomes(passed=3)
    assert sum(b["kind"] == "scores" for b in ArtifactCache(qb_cache).builds()) == scored  # nothing evaluated
    evaluated = json.loads((pytester.path / "accuracy.json").read_text())["quantbench"]["accuracy"]
    assert [a["accuracy"]["quantized"] for a in accuracy_of_int8("after.json")] == [
        a["metrics"]["accuracy"]["quantized"] for a in evaluated
    ]
    after.stdout.fnmatch_lines(["tiny-sentiment  per_tensor *accuracy +* (cached) *x* -"])
