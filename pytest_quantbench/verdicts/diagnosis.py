"""Why a config failed its gate: one line with the cause and the fix, and the evidence for the report.

Causes, most specific first: a calibration range no int8 scale can hold (the range check, in the
quantization report), kernels whose results depend on the CPU (the backend's hardware risk, confirmed by
re-evaluating on its exact kernels), else the nodes that add the most error (the sensitivity ranking, from the
backend's graph inspector). The fix is a verified `node_exclusion` when the fallback search ran and passed.
A backend whose engine cannot inspect its graphs gets one line saying so instead.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_quantbench.records import DiagnosisRecord, FallbackResult, HardwareRisk, NodeError, RangeFinding
from pytest_quantbench.runtimes.base import Unsupported, declared_inputs
from pytest_quantbench.verdicts import fallback

if TYPE_CHECKING:
    from pytest_quantbench.suite import Case
    from pytest_quantbench.verdicts.pipeline import Pipeline

DIAGNOSE_SAMPLES = 8
DIVERGENCE_SAMPLES = 2  # rows of a task's divergence ranking: ~60 runs of a model that computes each node either way
TOP = 5
NAMED_SHARE = 0.25  # a node the fix names moves the output at least this share of what the first one does


@dataclass(frozen=True)
class DiagnoseOptions:
    """Which cases to diagnose: failing ones unless `never`, every one with `always`; `fallback` searches the
    fp32 set of a failing one."""

    always: bool = False
    never: bool = False
    fallback: bool = False


@dataclass
class Diagnosis:
    config_exclusion: tuple[str, ...]
    findings: tuple[RangeFinding, ...]
    ranking: list[NodeError]
    hardware: HardwareRisk | None
    softmax_preset: list[str]  # what the `softmax` preset would keep in fp32
    fallback: FallbackResult | None = None
    precise: str | None = None  # the gate's line with x64_quant_precision, when it passes that way
    keep_bits: int | None = None  # a weight-only config below 8 bits: its MatMuls can be kept at 8 bits
    config_keep: tuple[str, ...] = ()  # the names and patterns it keeps at 8 bits already
    divergence_name: str = ""  # what the ranking's divergences measure (the task's), "" when none
    ranked_on: int = DIAGNOSE_SAMPLES  # eval samples the local ranking read (at most)

    def live_findings(self) -> list[RangeFinding]:
        """Absurd ranges a quantized node uses; one no quantized node touches (the mask's, once the softmax
        preset keeps its Adds in fp32) is evidence, not a cause."""
        return [f for f in self.findings if f.exclude]

    def range_exclusion(self) -> list[str]:
        return list(dict.fromkeys(name for f in self.live_findings() for name in f.exclude))

    def cause(self) -> str:
        live = self.live_findings()
        if live:
            more = f" (and {len(live) - 1} more)" if len(live) > 1 else ""
            return live[0].describe() + more
        if self.precise:
            return (
                f"this CPU's U8S8 kernels saturate int16 pair sums (no VNNI): with x64_quant_precision {self.precise}"
            )
        if self.ranking and self.ranking[0].divergence is not None:
            moved = ", ".join(f"{e.op_type} {e.node} ({e.divergence:.3g})" for e in self.named())
            return f"moves the output most quantized alone ({self.divergence_name}): {moved}"
        top = ", ".join(f"{e.op_type} {e.node} (SQNR {e.sqnr_db:.1f} dB)" for e in self.ranking[:3])
        return f"largest quantization error at {top}" if top else "no node stands out"

    def named(self) -> list[NodeError]:
        """The nodes a cause and fix name: the first three of the ranking, or, ranked by divergence, those
        that move the output at least `NAMED_SHARE` of what the first does (the int4 LM head alone, when it
        moves it ten times more than any layer)."""
        first = self.ranking[0].divergence if self.ranking else None
        if first is None:
            return self.ranking[:3]
        return [e for e in self.ranking[:3] if e.divergence is not None and e.divergence >= NAMED_SHARE * first]

    def fix(self) -> str:
        fb = self.fallback
        if fb is not None and fb.passed:
            scores = ", ".join(f"{m} {fb.quantized[m]:.3f}" for m in fb.quantized)
            return f"{fb.snippet} (fallback search: {scores}, latency x{fb.latency_cost:.2f})"
        if self.precise and self.hardware:
            return " or ".join(self.hardware.remedies)
        names = self.range_exclusion() or [e.node for e in self.named()]
        if not names:
            return "none found"
        preset = " (the softmax preset)" if set(names) == set(self.softmax_preset) else ""
        unpadded = " or calibration padding: none" if self.live_findings() else ""
        searched = "; the fallback search found no passing set" if fb is not None else ""
        exclusion = f"node_exclusion: [{', '.join([*self.config_exclusion, *names])}]{preset}{unpadded}{searched}"
        kept = [e.node for e in self.named() if e.op_type == "MatMul"]
        at_8bit = [n for n in kept if not any(fnmatch.fnmatchcase(n, p) for p in self.config_keep)]
        if self.keep_bits and at_8bit and not self.live_findings() and fb is None:
            listed = ", ".join([*self.config_keep, *at_8bit])
            return f"weight_only.keep_{self.keep_bits}bit: [{listed}] (or in fp32: {exclusion})"
        return exclusion

    def line(self) -> str:
        return f"cause: {self.cause()}; fix: {self.fix()}"

    def text(self) -> str:
        """The report section: range findings, ranking table, hardware record, fallback trials."""
        lines = []
        if self.findings:
            lines.append("range check (calibration ranges beyond 1e30):")
            lines += [f"  {f.describe()}; tensor {f.tensor}" for f in self.findings]
        if self.divergence_name:
            lines.append(f"quantized alone, on {DIVERGENCE_SAMPLES} eval samples: {self.divergence_name}")
        lines.append(f"sensitivity on up to {self.ranked_on} eval samples (added relative error, output SQNR):")
        lines += [
            f"  {i}. {e.op_type:<8} {e.node}  {moved(e)}added {e.added_error:.3g}  rel {e.rel_error:.3g}  "
            f"SQNR {e.sqnr_db:.1f} dB"
            for i, e in enumerate(self.ranking[:TOP], 1)
        ]
        if self.hardware:
            kernels = self.hardware.probe
            lines.append(
                f"hardware: {self.hardware.risk} risk; probe: {kernels.default} by default, "
                f"{kernels.x64_quant_precision} with x64_quant_precision; remedies: {'; '.join(self.hardware.remedies)}"
            )
        if self.fallback is not None:
            lines.append("fallback search:")
            lines += [f"  {t.nodes} nodes {t.kept}: {t.verdict}" for t in self.fallback.trials]
            if self.fallback.passed:
                lines.append(f"  {self.fallback.snippet}")
        return "\n".join(lines)

    def record(self) -> DiagnosisRecord:
        return DiagnosisRecord(self.line(), self.findings, tuple(self.ranking[:TOP]), self.hardware, self.fallback)


def moved(error: NodeError) -> str:
    return "" if error.divergence is None else f"divergence {error.divergence:.3g}  "


def by_divergence(ranking: list[NodeError], scores: dict[str, float]) -> list[NodeError]:
    """The nodes measured end to end first, the one that moves the output most first, then the rest in the
    ranking's order (by the error each adds to its own output)."""
    measured = [dataclasses.replace(e, divergence=scores[e.node]) for e in ranking if e.node in scores]
    measured.sort(key=lambda e: -(e.divergence or 0.0))
    return [*measured, *(e for e in ranking if e.node not in scores)]


def hardware_risk(bench: Pipeline, case: Case) -> HardwareRisk | None:
    """The hardware-risk record every result of the case carries (None when the config has no risk)."""
    return bench.backend(case).hardware_risk(case, bench.machine(case))


def diagnose(bench: Pipeline, case: Case, search: bool = False) -> Diagnosis:
    """Range check, sensitivity ranking and hardware record of a case; with `search`, the fallback too. Raises
    `Unsupported` when the case's engine cannot inspect its graphs."""
    backend = bench.backend(case)
    inspector = backend.graph_inspector(case)
    batch = bench.eval_data(case.suite).batches[0]
    first = {k: v[:DIAGNOSE_SAMPLES] for k, v in batch.items()}
    # as its session is fed: what the task completes (a decoder's empty cache) for the inputs the model declares
    feed = bench.data.of(case.suite).task.feed(first, declared_inputs(bench.original_session(case)))
    task = bench.data.of(case.suite).task
    ranked_on = DIVERGENCE_SAMPLES if task.divergence_name else DIAGNOSE_SAMPLES
    few = {k: v[:ranked_on] for k, v in feed.items()}
    # where the divergence ranks the nodes that matter, the local ranking only orders the rest: on as few samples
    ranking = inspector.ranking([few])
    if task.divergence_name:  # measured end to end: what each node alone does to the output
        ranking = by_divergence(ranking, inspector.divergences(few, task.divergence_name, task.divergence))
    findings = bench.quantized(case).report.range_check
    result = Diagnosis(
        config_exclusion=case.config.node_exclusion,
        findings=findings,
        ranking=ranking,
        hardware=hardware_risk(bench, case),
        # only a range finding's nodes can be the preset's (reading a decoder's graph for it took a second)
        softmax_preset=inspector.kept_by(("softmax",)) if findings else [],
        keep_bits=fallback.keep_bits(case),
        config_keep=case.config.weight_only.keep_8bit,
        divergence_name=task.divergence_name,
        ranked_on=ranked_on,
    )
    exact = backend.exact_kernels(case) if result.hardware and result.hardware.this_machine_saturates else None
    if exact is not None:  # judged as a passing fallback set is: every gate, a decoder's continuations included
        verdict = fallback.confirm(bench, case, dataclasses.replace(exact, expect=None))
        result.precise = verdict.line() if verdict.passed else None
    if search and not result.precise:
        ranked = result.range_exclusion()
        moving = [e.node for e in result.ranking if e.divergence]  # by divergence, where measured
        ranked += [n for n in moving if n not in ranked]
        ranked += [e.node for e in result.ranking if e.added_error > 0 and e.node not in ranked]
        every = [e.node for e in result.ranking]  # measured alone when the ranking's order finds no set
        result.fallback = fallback.search(bench, case, ranked, every)
    return result


def for_case(bench: Pipeline, case: Case, passed: bool, options: DiagnoseOptions) -> Diagnosis | Unavailable | None:
    """The diagnosis the options ask for, else None.

    A diagnosis that breaks must not hide the gate's verdict: it comes back as its own one-line cause.
    """
    if options.never or (passed and not options.always):
        return None
    try:
        return diagnose(bench, case, search=not passed and options.fallback)
    except Unsupported as exc:
        return Unavailable(f"no diagnosis for framework: {case.config.framework} ({exc.reason})")
    except Exception as exc:
        return Unavailable(f"diagnosis failed: {type(exc).__name__}: {exc}")


@dataclass
class Unavailable:
    """Stands in for a diagnosis that could not run: the failure line says why instead."""

    reason: str

    def line(self) -> str:
        return self.reason

    def text(self) -> str:
        return self.line()

    def record(self) -> DiagnosisRecord:
        return DiagnosisRecord(self.reason)
