"""Why a quantized model is not faster: the profiles of both sessions, side by side, named in one line.

When a speed-up is below `SLOW` (or the speed gate's `min`), a few calls of the original and the quantized
session run under the backend's profiler (`Backend.profile`, cached; a backend that cannot profile says so as
the cause), and `explain`
tries rules, in order, on what the profiles show: the first rule that recognises a cause gives the cause and
its fix; where none does, `NONE_FOUND` says so. A rule is a small object with one method,
`detect(SpeedFacts)` (`runtimes/speed_rules.py`). The order is `NothingQuantized` (it reads the quantization
report alone, so nothing is profiled for it), then the backend's `speed_rules`, its whole order: a backend
places the engine-neutral rules among its engine's own where they belong (ONNX Runtime's, with
`ThreadScaling` among them, are `runtimes/onnxruntime_speed.RULES`). Rules live in `runtimes/`, not here,
because a backend may import only the stages before it. Against another backend's fp32 (`baseline:
pytorch`) the profiles still compare the config's own two models, and the cause says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pytest_quantbench.records import OpTime, Profile, Role, SpeedDiagnosis
from pytest_quantbench.runtimes.base import Unsupported
from pytest_quantbench.runtimes.speed_rules import SLOW, NothingQuantized, SpeedFacts, SpeedRule

if TYPE_CHECKING:
    from pytest_quantbench.measure.measurements import Measurement
    from pytest_quantbench.runtimes.base import Backend
    from pytest_quantbench.suite import Case
    from pytest_quantbench.verdicts.pipeline import Pipeline

PROFILED_CALLS = 5
TOP = 8
NONE_FOUND = SpeedDiagnosis("no op type stands out in the profiles (see the op times)", "none found")


def explain(facts: SpeedFacts, rules: Sequence[SpeedRule]) -> SpeedDiagnosis:
    """The cause and fix of the first rule, in order, that recognises one in `facts`; else `NONE_FOUND`."""
    return next((found for rule in rules if (found := rule.detect(facts)) is not None), NONE_FOUND)


def op_times(original: Profile, quantized: Profile) -> tuple[OpTime, ...]:
    ops = {*original.op_ms, *quantized.op_ms}
    rows = [OpTime(op, original.op_ms.get(op, 0.0), quantized.op_ms.get(op, 0.0)) for op in ops]
    return tuple(sorted(rows, key=lambda r: -max(r.original_ms, r.quantized_ms))[:TOP])


def diagnose(bench: Pipeline, m: Measurement, feed: dict[str, Any], speedup: float | None) -> SpeedDiagnosis | None:
    """The speed diagnosis of an int8 latency case whose speed-up is below `SLOW` or its speed gate's `min`,
    else None."""
    case = m.case
    gate = case.thresholds.speedup
    if speedup is None or speedup >= max(SLOW, gate.min if gate is not None and gate.min is not None else 0.0):
        return None
    report = bench.quantized(case).report
    own, baseline = case.config.framework, case.baseline
    # against another backend's fp32 (`baseline:`) the profiles still compare the config's own fp32 and int8
    note = "" if baseline == own else f" (profiled: {own} fp32 vs int8; the speed-up is vs {baseline} fp32)"
    rules = (NothingQuantized(), *bench.backend(case).speed_rules)
    if report.quantized_nothing:  # the untouched graph needs no profile: `NothingQuantized` reads the report
        nothing = Profile({})
        level = case.config.framework_args.quantized_level
        found = explain(SpeedFacts(case.config, report, nothing, nothing, level, m.shape_id, None, bool(note)), rules)
        return SpeedDiagnosis(found.cause + note, found.fix)
    backend = bench.backend(case)
    try:
        original, quantized, one_thread = _profiles(backend, case, feed)
    except Unsupported as exc:
        return SpeedDiagnosis(f"{backend.name} cannot profile: {exc.reason}", "none found")
    level = case.config.framework_args.quantized_level
    facts = SpeedFacts(case.config, report, original, quantized, level, m.shape_id, one_thread, bool(note))
    found = explain(facts, rules)
    return SpeedDiagnosis(found.cause + note, found.fix, op_times(original, quantized))


def _profiles(
    backend: Backend, case: Case, feed: dict[str, Any]
) -> tuple[Profile, Profile, tuple[Profile, Profile] | None]:
    """Both models' profiles with the case's settings, and on one intra-op thread where it runs on several (does
    int8 lose to fp32 only on several threads?)."""
    original = backend.profile(case, Role.ORIGINAL, feed, PROFILED_CALLS)
    quantized = backend.profile(case, Role.QUANTIZED, feed, PROFILED_CALLS)
    if case.config.framework_args.intra_op_num_threads <= 1:
        return original, quantized, None
    alone = (
        backend.profile(case, Role.ORIGINAL, feed, PROFILED_CALLS, threads=1),
        backend.profile(case, Role.QUANTIZED, feed, PROFILED_CALLS, threads=1),
    )
    return original, quantized, alone
