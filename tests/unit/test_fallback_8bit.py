"""A failing weight-only config below 8 bits: the fallback search first keeps the ranked MatMuls at 8 bits
(`weight_only.keep_8bit`), and the diagnosis proposes that before fp32."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_quantbench.records import FallbackResult, FallbackTrial, MetricResult, NodeError
from pytest_quantbench.suite import load_suite
from pytest_quantbench.verdicts import fallback
from pytest_quantbench.verdicts.diagnosis import Diagnosis
from pytest_quantbench.verdicts.gates import Judgement

HEAD = "/lm_head/MatMul"
RANKED = [HEAD, "/model/layers.0/mlp/down_proj/MatMul"]


def _case(tmp_path: Path, settings: str):
    path = tmp_path / "lm.suite.yaml"
    path.write_text(
        f"task: text-generation\nmodel_name_or_path: some/model\ndataset: {{path: glue}}\nfixed: {settings}\n"
    )
    return load_suite(path).cases[0]


@pytest.mark.parametrize(
    ("settings", "bits"),
    [
        ("{quantization_approach: weight_only, weight_only: {bits: 4}}", 8),
        ("{quantization_approach: weight_only, weight_only: {bits: 8}}", None),
        ("{quantization_approach: dynamic}", None),
    ],
)
def test_only_a_weight_only_config_below_8_bits_keeps_nodes_at_8_bits(tmp_path: Path, settings: str, bits) -> None:
    assert fallback.keep_bits(_case(tmp_path, settings)) == bits


def test_the_search_grows_keep_8bit_along_the_ranking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = _case(tmp_path, "{quantization_approach: weight_only, weight_only: {bits: 4, keep_8bit: ['/x/*']}}")
    tried = []

    def judge(bench: object, trial, *args: object) -> Judgement:
        tried.append((trial.config.weight_only.keep_8bit, trial.config.node_exclusion))
        kept = HEAD in trial.config.weight_only.keep_8bit
        return Judgement((MetricResult("kl_divergence", 0.0, 0.1 if kept else 0.9),), (), kept)

    monkeypatch.setattr(fallback, "judge", judge)
    monkeypatch.setattr(fallback, "confirm", lambda bench, case, trial: judge(bench, trial))  # the whole split
    monkeypatch.setattr(fallback, "_latency_cost", lambda *args: 0.9)
    bench = SimpleNamespace(eval_data=lambda suite: None, evaluate=lambda case: SimpleNamespace(original={}))
    head = fallback.Slice(None, {}, None)  # type: ignore[arg-type]
    trials, found = fallback.at_8bit(bench, case, RANKED, head)  # type: ignore[arg-type]
    assert found is not None and found.passed and found.nodes == (HEAD,)
    assert tried == [(("/x/*", HEAD), ()), (("/x/*", HEAD), ())]  # on the slice, then confirmed on the whole split
    assert found.snippet == "weight_only.keep_8bit: [/x/*, /lm_head/MatMul]" and found.node_exclusion == ()
    assert [(t.nodes, t.kept) for t in trials] == [(1, "at 8 bits")]
    dynamic = _case(tmp_path, "{quantization_approach: dynamic}")
    assert fallback.at_8bit(bench, dynamic, RANKED, head) == ([], None)  # type: ignore[arg-type]


def test_the_diagnosis_proposes_8_bits_for_a_weight_only_config_before_fp32() -> None:
    ranking = [NodeError(HEAD, "MatMul", 3.0, 0.5, 0.4), NodeError("/norm/Mul", "Mul", 9.0, 0.1, 0.05)]
    base = dict(config_exclusion=(), findings=[], ranking=ranking, hardware=None, softmax_preset=[])
    line = Diagnosis(**base, keep_bits=8).line()  # type: ignore[arg-type]
    assert line.endswith(f"fix: weight_only.keep_8bit: [{HEAD}] (or in fp32: node_exclusion: [{HEAD}, /norm/Mul])")
    assert Diagnosis(**base).line().endswith(f"fix: node_exclusion: [{HEAD}, /norm/Mul]")  # type: ignore[arg-type]
    found = FallbackResult((), (HEAD,), True, {"kl_divergence": 0.0}, {"kl_divergence": 0.1}, latency_cost=0.9,
                           keep_8bit=(HEAD,))  # fmt: skip
    line = Diagnosis(**base, keep_bits=8, fallback=found).line()  # type: ignore[arg-type]
    assert line.endswith(f"fix: weight_only.keep_8bit: [{HEAD}] (fallback search: kl_divergence 0.100, latency x0.90)")
    assert FallbackTrial(2, False, "FAIL").kept == "in fp32"


def test_a_node_the_config_keeps_at_8_bits_already_is_proposed_in_fp32() -> None:
    ranking = [NodeError(HEAD, "MatMul", 3.0, 0.5, 0.4), NodeError("/b/MatMul", "MatMul", 9.0, 0.1, 0.05)]
    base = dict(config_exclusion=(), findings=[], ranking=ranking, hardware=None, softmax_preset=[], keep_bits=8)
    assert (
        Diagnosis(**base, config_keep=("/lm_head/*",))
        .line()
        .endswith(  # type: ignore[arg-type]
            "fix: weight_only.keep_8bit: [/lm_head/*, /b/MatMul] (or in fp32: node_exclusion: [/lm_head/MatMul, /b/MatMul])"
        )
    )
    assert (
        Diagnosis(**base, config_keep=("*",))
        .line()
        .endswith(  # type: ignore[arg-type]
            "fix: node_exclusion: [/lm_head/MatMul, /b/MatMul]"
        )
    )


def test_a_trial_of_a_known_failure_is_judged_by_its_gates_alone(tmp_path) -> None:
    """Under `expect: fail` an inconclusive verdict fails; a trial is another config, which it does not bind."""
    import dataclasses

    case = dataclasses.replace(_case(tmp_path, "{quantization_approach: weight_only, weight_only: {bits: 4}}"),
                               expect="fail")  # fmt: skip
    kept, excluded = fallback.with_kept(case, (HEAD,), 8), fallback.with_exclusion(case, (HEAD,))
    assert kept.expect is None and excluded.expect is None
    assert kept.config.weight_only.keep_8bit == (HEAD,) and excluded.config.node_exclusion == (HEAD,)
    assert case.expect == "fail"
