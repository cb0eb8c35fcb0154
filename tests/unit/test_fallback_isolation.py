"""The fallback search's second order: each candidate measured alone (every other candidate kept in fp32), the
node whose quantization alone makes the gates worst first, when no prefix of the sensitivity ranking passed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_quantbench.records import MetricResult
from pytest_quantbench.suite import load_suite
from pytest_quantbench.verdicts import fallback
from pytest_quantbench.verdicts.gates import Judgement

POOL = ["/a/MatMul", "/b/MatMul", "/c/MatMul"]
DAMAGE = {"/a/MatMul": 0.1, "/b/MatMul": 0.5, "/c/MatMul": 0.0}  # what each does to neighbours, alone


def test_the_node_that_hurts_most_alone_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "e.suite.yaml"
    path.write_text("task: feature-extraction\nmodel_name_or_path: some/model\ndataset: {path: glue}\n")
    case = load_suite(path).cases[0]
    seen, measured = [], list(POOL)  # the candidates a trial may leave quantized

    def judge(bench: object, trial: object, *args: object) -> Judgement:
        (alone,) = [n for n in measured if n not in trial.config.node_exclusion]  # type: ignore[attr-defined]
        seen.append(alone)
        worse = (
            MetricResult("cosine", 1.0, 1.0 - DAMAGE[alone] / 10),
            MetricResult("neighbours@5", 1.0, 1.0 - DAMAGE[alone]),
        )
        return Judgement(worse, (), False)

    monkeypatch.setattr(fallback, "judge", judge)
    order = fallback.isolated_order(None, case, POOL, fallback.Slice(None, {}, None))  # type: ignore[arg-type]
    assert seen == POOL and order == ["/b/MatMul", "/a/MatMul", "/c/MatMul"]
    monkeypatch.setattr(fallback, "MAX_ISOLATED", 2)  # a bounded pool: one trial per candidate measured
    measured[:] = POOL[:2]
    assert fallback.isolated_order(None, case, POOL, fallback.Slice(None, {}, None)) == ["/b/MatMul", "/a/MatMul"]  # type: ignore[arg-type]
