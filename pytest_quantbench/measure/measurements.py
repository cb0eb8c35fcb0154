"""Which (model, shape) pairs a suite times: one `Measurement` per latency case, the fp32 baseline once per
shape and then every config, and for a decoder one per phase (`records.Phase`)."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_quantbench.records import Phase, Role, Shape
from pytest_quantbench.suite import DECODER_PHASES, Case, Suite


def shape_id(batch_size: int, input_length: int | None) -> str:
    """A timing shape as latency ids write it: `bs8-len128`, or `bs8` for image tasks (`records.Shape.id`)."""
    return Shape(batch_size, input_length).id


@dataclass(frozen=True)
class Measurement:
    """One timing case: the fp32 baseline (ORIGINAL) or a config's quantized model, at one batch size and input
    length, and for a decoder one phase (`records.Phase`; its `prompt_length` is the prompt a GENERATE case's new
    tokens follow). Its id keeps the words of pytest-benchmark's saved names: `fp32-...` and
    `int8-<config id>-...`."""

    case: Case
    role: Role
    batch_size: int
    input_length: int | None
    phase: Phase | None = None
    prompt_length: int | None = None

    @property
    def shape(self) -> Shape:
        return Shape(self.batch_size, self.input_length, self.phase)

    @property
    def shape_id(self) -> str:
        return self.shape.id

    @property
    def id(self) -> str:
        model = self.case.baseline_id if self.role is Role.ORIGINAL else f"int8-{self.case.id}"
        return f"{model}-{self.shape_id}"

    @property
    def group(self) -> str:
        """pytest-benchmark group: the baseline and every config of one shape side by side."""
        length = f" {LENGTH_NAMES[self.phase]}={self.input_length}" if self.input_length else ""
        phase = f" {self.phase.value}" if self.phase is not None else ""
        return f"{self.case.suite.name}{phase} batch_size={self.batch_size}{length}"


# how a group names a shape's length, by phase (None: a forward pass of other tasks)
LENGTH_NAMES = {None: "input_length", Phase.PREFILL: "input_length", Phase.DECODE: "context_length",
                Phase.GENERATE: "new_tokens"}  # fmt: skip


def timed_shapes(suite: Suite) -> list[tuple[Shape, int | None]]:
    """The shapes a suite times, as the ids name them, each with the prompt its inputs are made of: every
    (batch size, input length) pair, and for a decoder every phase of `time.phases` (GENERATE once per batch
    size, of `time.new_tokens`, after a prompt of the first input length)."""
    if not suite.decodes:
        return [(Shape(b, n), n) for b, n in suite.shapes]
    phases = [Phase(p) for p in suite.time.phases or DECODER_PHASES]
    out: list[tuple[Shape, int | None]] = []
    for phase in phases:
        for b in suite.time.batch_sizes:
            pairs = [(b, n) for bb, n in suite.shapes if bb == b]
            if phase is Phase.GENERATE:
                out.append((Shape(b, suite.time.new_tokens, phase), pairs[0][1]))
            else:
                out += [(Shape(b, n, phase), n) for _, n in pairs]
    return out


def measurements(suite: Suite) -> list[Measurement]:
    """Shape by shape: each distinct fp32 baseline once, then every config."""
    out = []
    baselines: dict[str, Case] = {}
    for case in suite.cases:
        baselines.setdefault(case.baseline_id, case)
    for shape, prompt in timed_shapes(suite):
        at = (shape.batch_size, shape.input_length, shape.phase, prompt)
        out += [Measurement(c, Role.ORIGINAL, *at) for c in baselines.values()]
        out += [Measurement(c, Role.QUANTIZED, *at) for c in suite.cases]
    return out
