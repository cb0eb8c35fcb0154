"""The typed values that cross stages: what a quantizer reports, what the machine is, what a case measured.

Plain frozen dataclasses with no behaviour beyond reading themselves: each stage builds them, later stages
and the reports read their fields. `serialize` is the one writer (to `extra_info` and the run's
JSON) and the one reader (for card, plot and compare) of all of them. One module per kind of value (`kinds`, `machine`, `diagnosis`, `accuracy`, `timing`); import them from here.
"""

from pytest_quantbench.records.accuracy import (
    CaseResult,
    ChangedAnswer,
    InputKind,
    MetricResult,
    ModelSize,
    PairedStats,
    PredictionPaths,
)
from pytest_quantbench.records.diagnosis import (
    DiagnosisRecord,
    FallbackResult,
    FallbackTrial,
    NodeError,
    OpTime,
    Profile,
    QuantizationReport,
    RangeFinding,
    SpeedDiagnosis,
)
from pytest_quantbench.records.kinds import Direction, MetricInfo, Phase, Role, TensorSpec, Verdict, verdict_of
from pytest_quantbench.records.machine import EngineInfo, HardwareRisk, KernelProbe, MachineFacts
from pytest_quantbench.records.timing import LatencyStats, MemoryStats, Shape, TimingResult, memory_ratio

__all__ = [
    "CaseResult",
    "ChangedAnswer",
    "DiagnosisRecord",
    "Direction",
    "EngineInfo",
    "FallbackResult",
    "FallbackTrial",
    "HardwareRisk",
    "InputKind",
    "KernelProbe",
    "LatencyStats",
    "MachineFacts",
    "MemoryStats",
    "MetricInfo",
    "MetricResult",
    "ModelSize",
    "NodeError",
    "OpTime",
    "PairedStats",
    "Phase",
    "PredictionPaths",
    "Profile",
    "QuantizationReport",
    "RangeFinding",
    "Role",
    "Shape",
    "SpeedDiagnosis",
    "TensorSpec",
    "TimingResult",
    "Verdict",
    "memory_ratio",
    "verdict_of",
]
