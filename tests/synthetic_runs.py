"""Runs built as typed records for the report tests (HTML, CI summaries, exports): any number of configs in two
suites, with paired intervals, speed-ups with their intervals, sizes, memory, a diagnosed slow config with its
op profile, every verdict, and a config id and a diagnosis that hold HTML, so escaping is exercised."""

from __future__ import annotations

from pytest_quantbench.records import (
    CaseResult,
    DiagnosisRecord,
    EngineInfo,
    LatencyStats,
    MachineFacts,
    MemoryStats,
    MetricResult,
    ModelSize,
    OpTime,
    PairedStats,
    QuantizationReport,
    Role,
    SpeedDiagnosis,
    TimingResult,
)
from pytest_quantbench.results.records import ConfigInfo, SuiteInfo, TimedCase
from pytest_quantbench.results.run import Run
from pytest_quantbench.suite import TimeSpec

HOSTILE = "<script>alert(1)</script>&co"  # a config id a report must show as text


def machine(cpu: str = "Test CPU", version: str = "1.2.3") -> MachineFacts:
    line = f"onnxruntime {version} (CPUExecutionProvider)"
    return MachineFacts(cpu, 4, ("avx2",), False, "3.11", (EngineInfo("onnxruntime", version, line),))


def _accuracy(suite: str, cid: str, i: int, shift: float) -> CaseResult:
    drop = (i % 7) * 0.01 + shift
    paired = PairedStats("accuracy", drop, drop - 0.01, drop + 0.015, 0.95, i % 5, i % 3, 0.5, 200)
    metric = MetricResult("accuracy", 0.9, 0.9 - drop, 0.5, paired)
    flags = [(True, False, False), (False, False, False), (False, True, False), (False, False, True)][i % 4]
    diagnosis = DiagnosisRecord(f"MatMul <node_{i}> loses precision") if not flags[0] else None
    return CaseResult(
        suite, cid, {"accuracy": metric}, flags[0], flags[1], QuantizationReport({"MatMul": 8, "Add": 4}, 12, False),
        diagnosis=diagnosis, inconclusive=flags[2], size=ModelSize(4_000_000, 1_100_000), line=f"case {i}",
    )  # fmt: skip


def _timing(suite: str, role: Role, cid: str, ms: float, speedup: float | None, facts: MachineFacts) -> TimingResult:
    slow = speedup is not None and speedup < 1.1
    ops = (OpTime("MatMul", 4.0, 5.5), OpTime("Add", 1.0, 0.8), OpTime("DynamicQuantizeLinear", 0.0, 1.2))
    memory = MemoryStats(50_000_000, 80_000_000, "bs1-len16", 100_000_000)
    return TimingResult(
        suite, "text-classification", "m", role, cid, {}, 1, 16, 1, facts, latency=LatencyStats(ms, ms, ms, ms, 5, 0.01),
        speedup=speedup, speedup_ci95_rel=0.05 if speedup else None, baseline="onnxruntime",
        speed_diagnosis=SpeedDiagnosis("int8 MatMul slower than fp32", "use VNNI", ops) if slow else None,
        memory=memory, fp32_memory=MemoryStats(60_000_000, 120_000_000, "bs1-len16", 100_000_000) if speedup else None,
    )  # fmt: skip


def suite_run(
    configs: int = 6, suites: tuple[str, ...] = ("sst2", "news"), shift: float = 0.0, facts: MachineFacts | None = None,
    source: str = "run.json", commit: str = "abc123",
) -> Run:  # fmt: skip
    """`configs` configs per suite (the first suite's first config has the hostile id), all timed at bs1-len16
    against one fp32 case; speed-ups from x0.8 up, quality drops from 0 by steps of 0.01, plus `shift`."""
    facts = facts or machine()
    infos, accuracy, timings = [], [], []
    for name in suites:
        ids = [HOSTILE if (name, i) == (suites[0], 0) else f"cfg-{i:03d}" for i in range(configs)]
        infos.append(
            SuiteInfo(
                name, "text-classification", "tiny-bert", {"path": "builtin:data"}, ("accuracy",), {},
                {"config": ids}, TimeSpec(rounds=5),
                tuple(ConfigInfo(c, {"config": c}, "fp32", framework="onnxruntime") for c in ids),
            )
        )  # fmt: skip
        timings.append(
            TimedCase("fp32-bs1-len16", _timing(name, Role.ORIGINAL, "fp32", 10.0, None, facts), "onnxruntime")
        )
        for i, cid in enumerate(ids):
            accuracy.append(_accuracy(name, cid, i, shift))
            speedup = 0.8 + (i % 9) * 0.2
            record = _timing(name, Role.QUANTIZED, cid, 10.0 / speedup, speedup, facts)
            timings.append(TimedCase(f"int8-{cid}-bs1-len16", record, "onnxruntime"))
    return Run(source, facts, {"id": commit}, tuple(infos), tuple(accuracy), tuple(timings))
