"""A config's accuracy case as one record: the evaluation, its verdict, the hardware risk and the diagnosis; and
the metrics a latency case records, read from the score cache, never evaluated for it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_quantbench.errors import DataError
from pytest_quantbench.records import CaseResult, MetricResult, Role
from pytest_quantbench.verdicts import diagnosis

if TYPE_CHECKING:
    from pytest_quantbench.suite import Case
    from pytest_quantbench.verdicts.gates import Evaluation
    from pytest_quantbench.verdicts.pipeline import Pipeline


@dataclass(frozen=True)
class AccuracyOutcome:
    """What an accuracy case ends with: the record to store, and what to say when it fails."""

    result: CaseResult
    evaluation: Evaluation
    diagnosis: diagnosis.Diagnosis | diagnosis.Unavailable | None

    artifacts: str = ""

    @property
    def cause(self) -> str:
        return self.diagnosis.line() if self.diagnosis is not None else ""


def accuracy_outcome(bench: Pipeline, case: Case, options: diagnosis.DiagnoseOptions) -> AccuracyOutcome:
    evaluation = bench.evaluate(case)
    verdict = evaluation.verdict
    found = diagnosis.for_case(bench, case, verdict.passed, options)
    result = CaseResult(
        suite=case.suite.name,
        config_id=case.id,
        metrics={r.name: r for r in verdict.results},
        passed=verdict.passed,
        collapse=verdict.collapsed,
        line=verdict.line(),
        quantization=evaluation.report,
        expect=case.expect,
        machine=bench.machine(case),
        hardware_risk=diagnosis.hardware_risk(bench, case),
        diagnosis=found.record() if found is not None else None,
        inconclusive=bool(verdict.inconclusive),
        predictions=evaluation.predictions,
        size=evaluation.size,
        changed_answers=evaluation.changed,
    )
    return AccuracyOutcome(result, evaluation, found, "" if verdict.passed else artifacts_line(bench, case, evaluation))


def artifacts_line(bench: Pipeline, case: Case, evaluation: Evaluation) -> str:
    """Where a failing case's quantized model, calibration ranges and predictions lie, to look at at once."""
    found = dict(bench.backend(case).artifacts(case))
    if evaluation.predictions is not None:
        found["predictions"] = Path(evaluation.predictions.quantized)
    return "artifacts: " + ", ".join(f"{what} {path}" for what, path in found.items()) if found else ""


def known_metrics(bench: Pipeline, case: Case) -> dict[str, MetricResult] | None:
    """A config's metrics as far as they are known without evaluating anything: when both models' scores are in
    the score cache (where this process's evaluation, if any, wrote them too), the judged results read from
    there; None when they are not, as under `-m latency` before any accuracy case scored the config. The report
    rows prefer the run's accuracy case either way, so a latency row never depends on which case ran first."""
    backend = bench.backend(case)
    if not bench.scorer.is_cached(
        case.suite, *(backend.model_id(case, role) for role in Role), libraries=backend.libraries
    ):
        return None
    try:
        return {r.name: r for r in bench.evaluate(case).verdict.results}  # every score read from the cache
    except DataError:  # references that do not match the model: the accuracy case fails on it, timings stand
        return None
