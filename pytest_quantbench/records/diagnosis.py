"""What a quantizer did and why a config failed or is slow: reports, rankings, fallbacks, profiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from pytest_quantbench.records.machine import HardwareRisk


@dataclass(frozen=True)
class RangeFinding:
    """A calibration range no int8 scale can hold, named by the node that produces the tensor."""

    tensor: str
    low: float
    high: float
    node: str  # producer, or the graph input's name
    op_type: str
    feeds: tuple[str, ...]  # op types of the consumers
    exclude: tuple[str, ...]  # quantized nodes that read or write this tensor

    def describe(self) -> str:
        feeds = f" (feeds {'/'.join(self.feeds)})" if self.feeds else ""
        return f"calibration range of {self.op_type} {self.node}{feeds} is [{self.low:.3g}, {self.high:.3g}]"


@dataclass(frozen=True)
class QuantizationReport:
    """What the quantizer actually did: quantized nodes per float op type, and the calibration range check."""

    quantized_nodes: dict[str, int]
    total_quantized: int
    quantized_nothing: bool
    operators_to_quantize: tuple[str, ...] | None = None
    # identical graphs (per_channel on a config that quantizes nothing, say) score alike: evaluated once
    graph_sha256: str | None = None
    excluded_nodes: int = 0
    range_check: tuple[RangeFinding, ...] = ()
    # what an accuracy-controlled quantizer (NNCF's `quantize_with_accuracy_control`) put back in fp32, by name
    reverted_nodes: tuple[str, ...] = ()
    # weight-only: how many MatMulNBits nodes hold weights of each bit width ({"4": 210, "8": 1})
    weight_bits: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeError:
    """One node's share of the quantization error, from the sensitivity analysis."""

    node: str
    op_type: str
    sqnr_db: float  # of the node's output, int8 vs fp32 model
    rel_error: float  # ||int8 - fp32|| / ||fp32|| of that output
    added_error: float  # relative error of the output minus that of the worst input: the node's own share
    # how far the model's output moves from fp32's with this node alone quantized (the task's divergence, a
    # decoder's mean KL); None: not measured (a task without one, or a node outside the groups refined)
    divergence: float | None = None


@dataclass(frozen=True)
class FallbackTrial:
    nodes: int
    passed: bool
    verdict: str
    bits: int | None = None  # the bits the nodes were kept at (weight_only.keep_8bit); None: fp32

    @property
    def kept(self) -> str:
        return "in fp32" if self.bits is None else f"at {self.bits} bits"


@dataclass(frozen=True)
class FallbackResult:
    """The fp32 set the fallback search found (or not), with its scores and latency cost."""

    node_exclusion: tuple[str, ...]  # the config's own entries, then the nodes found
    nodes: tuple[str, ...]
    passed: bool
    original: dict[str, float] = field(default_factory=dict)
    quantized: dict[str, float] = field(default_factory=dict)  # with the fallback, on the whole eval split
    trials: tuple[FallbackTrial, ...] = ()
    latency_cost: float | None = None  # latency with the fallback / latency of the plain int8 model
    # a weight-only config's nodes kept at 8 bits instead (its own entries, then the nodes found); then
    # `node_exclusion` is the config's own
    keep_8bit: tuple[str, ...] = ()
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("snippet",)

    @property
    def snippet(self) -> str:
        if self.keep_8bit:
            return "weight_only.keep_8bit: [" + ", ".join(self.keep_8bit) + "]"
        return "node_exclusion: [" + ", ".join(self.node_exclusion) + "]"


@dataclass(frozen=True)
class DiagnosisRecord:
    """What a diagnosis found, as the results keep it: the one line, and the evidence behind it."""

    line: str
    range_check: tuple[RangeFinding, ...] = ()
    ranking: tuple[NodeError, ...] = ()
    hardware_risk: HardwareRisk | None = None
    fallback: FallbackResult | None = None


@dataclass(frozen=True)
class Profile:
    """A session's profiled calls, in ms per call: by op type, and by the element type of each kernel's first
    input (`float`, `float16`, `uint8`, ...). The second tells a float16 or 16-bit model that ONNX Runtime ran
    in fp32 (Casts inserted, float kernels) from one whose kernels took the converted types."""

    op_ms: dict[str, float]
    input_type_ms: dict[str, float] = field(default_factory=dict)

    @property
    def total_ms(self) -> float:
        """Kernel time per call, all ops together."""
        return sum(self.op_ms.values())

    def share(self, *ops: str) -> float:
        """The share of the call that `ops` take."""
        total = self.total_ms
        return sum(self.op_ms.get(op, 0.0) for op in ops) / total if total else 0.0

    def type_share(self, element_type: str) -> float:
        """The share of the call in kernels whose first input is of `element_type`."""
        total = sum(self.input_type_ms.values())
        return self.input_type_ms.get(element_type, 0.0) / total if total else 0.0


@dataclass(frozen=True)
class OpTime:
    """Time per call of one op type, summed over its nodes, in both models (ONNX Runtime's profiler)."""

    op_type: str
    original_ms: float
    quantized_ms: float


@dataclass(frozen=True)
class SpeedDiagnosis:
    """Why a quantized model is not faster: one cause and its fix, from the profiles of both sessions."""

    cause: str
    fix: str
    op_times: tuple[OpTime, ...] = ()  # largest first

    @property
    def line(self) -> str:
        return f"cause: {self.cause}; fix: {self.fix}"
