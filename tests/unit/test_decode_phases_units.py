"""A decoder's cache and phases without a model: the empty cache a feed is completed with, the greedy loop's
feeds, the phase shapes and ids, the lengths fitted to the model's positions, and the records that carry them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_quantbench import serialize
from pytest_quantbench.records import MachineFacts, Phase, Role, Shape, TensorSpec, TimingResult
from pytest_quantbench.runtimes.base import declared_inputs, output_names
from pytest_quantbench.tasks import decoding

HEADS, SIZE, VOCAB = 2, 4, 10


@dataclass(frozen=True)
class Arg:  # what an ONNX Runtime session's get_inputs() and get_outputs() give
    name: str
    shape: tuple[Any, ...] = ()
    type: str = "tensor(float)"


class FakeDecoder:
    """One layer's cache; its next token is the length of the sequence so far (mod the vocabulary), and it
    remembers the shapes of every feed."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def get_inputs(self) -> list[Arg]:
        cache = ("batch_size", HEADS, "past_sequence_length", SIZE)
        return [
            Arg("input_ids", ("batch_size", "sequence_length"), "tensor(int64)"),
            Arg("attention_mask", ("batch_size", "past_sequence_length + sequence_length"), "tensor(int64)"),
            Arg("position_ids", ("batch_size", "sequence_length"), "tensor(int64)"),
            Arg("past_key_values.0.key", cache), Arg("past_key_values.0.value", cache),
        ]  # fmt: skip

    def get_outputs(self) -> list[Arg]:
        return [Arg("logits"), Arg("present.0.key"), Arg("present.0.value")]

    def run(self, names: Any, feed: dict[str, Any]) -> list[Any]:
        self.calls.append({k: v.copy() for k, v in feed.items()})
        batch, new = feed["input_ids"].shape
        total = feed["past_key_values.0.key"].shape[2] + new
        logits = np.zeros((batch, new, VOCAB), dtype=np.float32)
        logits[..., total % VOCAB] = 1.0
        cache = np.zeros((batch, HEADS, total, SIZE), dtype=np.float32)
        return [logits, cache, cache + 1]


def prompt(batch: int = 2, length: int = 5) -> dict[str, Any]:
    ids = np.arange(batch * length, dtype=np.int64).reshape(batch, length)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "position_ids": np.arange(length)[None].repeat(batch, 0),
            "token_type_ids": np.zeros_like(ids)}  # fmt: skip


def test_a_feed_is_completed_with_an_empty_cache_shaped_as_the_session_declares_it() -> None:
    declared = declared_inputs(FakeDecoder())
    assert declared[3] == TensorSpec("past_key_values.0.key", (None, HEADS, None, SIZE), "float32")
    feed = decoding.with_empty_cache(prompt(), declared)
    assert "token_type_ids" not in feed  # what the session does not take is left out
    for name in ("past_key_values.0.key", "past_key_values.0.value"):
        assert feed[name].shape == (2, HEADS, 0, SIZE) and feed[name].dtype == np.float32
    kept = np.ones((2, HEADS, 3, SIZE), dtype=np.float32)
    assert (
        decoding.with_empty_cache({**prompt(), "past_key_values.0.key": kept}, declared)["past_key_values.0.key"]
        is kept
    )


def test_the_text_generation_task_feeds_an_empty_cache_and_other_tasks_only_what_is_declared() -> None:
    from pytest_quantbench.tasks import BUILTIN

    tasks = {task.name: task for task in BUILTIN}
    declared = declared_inputs(FakeDecoder())
    assert tasks["text-generation"].feed(prompt(), declared)["past_key_values.0.value"].shape == (2, HEADS, 0, SIZE)
    assert set(tasks["text-classification"].feed(prompt(), declared)) == {
        "input_ids",
        "attention_mask",
        "position_ids",
    }
    assert tasks["text-generation"].decodes and not tasks["text-classification"].decodes


def test_a_decode_feed_carries_the_cache_of_a_real_prefill_and_its_next_token() -> None:
    session = FakeDecoder()
    flow = decoding.CacheFlow.of(declared_inputs(session), output_names(session))
    assert flow.links == ((1, "past_key_values.0.key"), (2, "past_key_values.0.value"))
    feed = decoding.decode_feed(session, decoding.with_empty_cache(prompt(), declared_inputs(session)), flow)
    assert len(session.calls) == 1 and session.calls[0]["past_key_values.0.key"].shape[2] == 0  # the prefill
    assert feed["input_ids"].tolist() == [[5], [5]]  # the greedy token after 5 tokens
    assert feed["past_key_values.0.key"].shape == (2, HEADS, 5, SIZE) and feed["past_key_values.0.value"].max() == 1
    assert feed["attention_mask"].shape == (2, 6) and feed["position_ids"].tolist() == [[5], [5]]


def test_the_generation_loop_feeds_each_steps_cache_to_the_next() -> None:
    session = FakeDecoder()
    flow = decoding.CacheFlow.of(declared_inputs(session), output_names(session))
    loop = decoding.Generation(session, flow, new_tokens=4)
    feed = decoding.with_empty_cache(prompt(1, 3), declared_inputs(session))
    for _ in range(2):  # a second call repeats the first: the timed rounds are alike
        session.calls.clear()
        out = loop.run(None, feed)
        assert len(session.calls) == 4 and out[1].shape[2] == 3 + 3
        steps = session.calls[1:]
        assert [s["past_key_values.0.key"].shape[2] for s in steps] == [3, 4, 5]
        assert [s["attention_mask"].shape[1] for s in steps] == [4, 5, 6]
        assert [int(s["input_ids"][0, 0]) for s in steps] == [3, 4, 5]
        assert [int(s["position_ids"][0, 0]) for s in steps] == [3, 4, 5]
    assert [a.name for a in loop.get_inputs()] == [a.name for a in session.get_inputs()]


@pytest.mark.parametrize(
    ("shape", "text"),
    [
        (Shape(1, 64, Phase.PREFILL), "prefill-bs1-len64"),
        (Shape(4, 128, Phase.DECODE), "decode-bs4-ctx128"),
        (Shape(1, 16, Phase.GENERATE), "generate-bs1-new16"),
        (Shape(8, 128), "bs8-len128"),
    ],
)
def test_phase_shape_ids_are_written_and_read_back(shape: Shape, text: str) -> None:
    assert shape.id == text and Shape.parse(text) == shape


def test_a_shape_without_a_phase_is_still_its_pair_and_a_wrong_length_word_is_refused() -> None:
    assert (
        Shape(4, 16) == (4, 16) and hash(Shape(4, 16)) == hash((4, 16)) and Shape(4, 16) != Shape(4, 16, Phase.DECODE)
    )
    for bad in ("decode-bs1-len64", "prefill-bs1-new4", "warmup-bs1-len8"):
        with pytest.raises(ValueError, match="expected a shape such as bs1-len128 or bs4"):
            Shape.parse(bad)
    assert sorted([Shape(1, 8, Phase.GENERATE), Shape(1, 8, Phase.PREFILL), Shape(1, 8)], key=Shape.sort_key) == [
        Shape(1, 8), Shape(1, 8, Phase.PREFILL), Shape(1, 8, Phase.GENERATE)
    ]  # fmt: skip


def _suite(tmp_path: Path, time: str, task: str = "text-generation"):
    from pytest_quantbench.suite import load_suite

    path = tmp_path / "s.suite.yaml"
    path.write_text(
        f"task: {task}\nmodel_name_or_path: m\ndataset: {{path: glue}}\nbenchmarked: {{per_channel: [false, true]}}\n"
        f"time: {time}\n"
    )
    return load_suite(path)


def test_a_decoder_suite_times_every_phase_by_default_and_others_keep_their_ids(tmp_path: Path) -> None:
    from pytest_quantbench.measure.measurements import measurements

    ids = [m.id for m in measurements(_suite(tmp_path, "{batch_sizes: [1, 2], input_lengths: [32, 64]}"))]
    assert ids[:3] == [
        "fp32-prefill-bs1-len32",
        "int8-per_tensor-prefill-bs1-len32",
        "int8-per_channel-prefill-bs1-len32",
    ]
    shapes = dict.fromkeys(i.removeprefix("fp32-") for i in ids if i.startswith("fp32-"))
    assert list(shapes) == [
        "prefill-bs1-len32", "prefill-bs1-len64", "prefill-bs2-len32", "prefill-bs2-len64",
        "decode-bs1-ctx32", "decode-bs1-ctx64", "decode-bs2-ctx32", "decode-bs2-ctx64",
        "generate-bs1-new16", "generate-bs2-new16",  # once per batch size, after a prompt of the first length
    ]  # fmt: skip
    generate = [m for m in measurements(_suite(tmp_path, "{input_lengths: [32, 64]}")) if m.phase is Phase.GENERATE]
    assert {(m.input_length, m.prompt_length) for m in generate} == {(16, 32)}
    chosen = measurements(_suite(tmp_path, "{phases: [decode, decode], new_tokens: 4}"))
    assert [m.id for m in chosen if m.role is Role.ORIGINAL] == ["fp32-decode-bs1-ctx128"]
    classifier = measurements(_suite(tmp_path, "{input_lengths: [32]}", "text-classification"))
    assert [m.id for m in classifier] == ["fp32-bs1-len32", "int8-per_tensor-bs1-len32", "int8-per_channel-bs1-len32"]


def test_a_phase_that_is_not_one_is_one_line_naming_the_field(tmp_path: Path) -> None:
    from pytest_quantbench.errors import SuiteError

    with pytest.raises(SuiteError) as info:
        _suite(tmp_path, "{phases: [warmup]}")
    assert "time.phases" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("phase", "named", "limit", "length", "prompt"),
    [
        (Phase.PREFILL, 64, 64, 64, 64),
        (Phase.DECODE, 64, 64, 63, 63),  # room for the one new token
        (Phase.DECODE, 32, 64, 32, 32),
        (Phase.GENERATE, 64, 64, 16, 48),  # the prompt leaves room for 16 new tokens
        (Phase.GENERATE, 32, 64, 16, 32),
        (Phase.DECODE, 64, None, 64, 64),  # no limit known: as named
    ],
)
def test_a_decoders_lengths_fit_the_models_positions(
    tmp_path: Path, phase: Phase, named: int, limit: int | None, length: int, prompt: int
) -> None:
    from pytest_quantbench.measure.measurements import measurements
    from pytest_quantbench.measure.phases import fitted

    m = next(m for m in measurements(_suite(tmp_path, f"{{input_lengths: [{named}]}}")) if m.phase is phase)
    timed = fitted(m, named, limit)
    assert (timed.input_length, timed.prompt_length) == (length, prompt)


def test_new_tokens_that_leave_no_prompt_are_one_line_naming_the_field(tmp_path: Path) -> None:
    from pytest_quantbench.errors import DataError
    from pytest_quantbench.measure.measurements import measurements
    from pytest_quantbench.measure.phases import fitted

    suite = _suite(tmp_path, "{new_tokens: 64}")
    m = next(m for m in measurements(suite) if m.phase is Phase.GENERATE)
    with pytest.raises(DataError) as info:
        fitted(m, 64, 64)
    assert str(info.value).startswith(f"{suite.path}: time.new_tokens: 64 new tokens leave no prompt within")


def test_each_phases_memory_runs_its_own_feeds_a_generation_its_prompt_then_its_loops_last_step(
    tmp_path: Path,
) -> None:
    from pytest_quantbench.measure.measurements import measurements
    from pytest_quantbench.measure.phases import MEMORY_ORDER, fitted, memory_order, memory_steps
    from pytest_quantbench.tasks import BUILTIN

    task = next(t for t in BUILTIN if t.name == "text-generation")
    suite = _suite(tmp_path, "{input_lengths: [3, 5], new_tokens: 4}")
    timed = [fitted(m, m.prompt_length, None) for m in measurements(suite) if m.role is Role.ORIGINAL]
    ordered = memory_order(timed)
    assert [m.shape_id for m in ordered] == [
        "decode-bs1-ctx3", "decode-bs1-ctx5", "prefill-bs1-len3", "prefill-bs1-len5", "generate-bs1-new4"
    ]  # fmt: skip
    assert [m.phase for m in ordered][::2] == list(MEMORY_ORDER)

    session = FakeDecoder()
    steps = {m.phase: memory_steps(task, session, lambda b, n: prompt(b, n), m) for m in ordered if m.input_length != 5}
    cache = "past_key_values.0.key"
    assert [f[cache].shape[2] for f in steps[Phase.PREFILL]] == [0]  # the prompt, with an empty cache
    assert [(f["input_ids"].shape[1], f[cache].shape[2]) for f in steps[Phase.DECODE]] == [(1, 3)]
    # a generation: its prompt, then the last step of the loop it times (3 + 4 - 2 = 5 cached positions)
    flow = decoding.CacheFlow.of(declared_inputs(session), output_names(session))
    session.calls.clear()
    decoding.Generation(session, flow, new_tokens=4).run(None, steps[Phase.GENERATE][0])
    last = session.calls[-1]
    assert [{k: v.shape for k, v in f.items()} for f in steps[Phase.GENERATE]] == [
        {k: v.shape for k, v in session.calls[0].items()}, {k: v.shape for k, v in last.items()}
    ]  # fmt: skip
    one = fitted(
        next(m for m in measurements(_suite(tmp_path, "{new_tokens: 1}")) if m.phase is Phase.GENERATE), 8, None
    )
    assert len(memory_steps(task, session, lambda b, n: prompt(b, n), one)) == 1  # the prefill is the whole loop


def _record(**fields: Any) -> TimingResult:
    machine = MachineFacts("cpu", 2, (), False, "3.11")
    return TimingResult("s", "text-generation", "m", Role.QUANTIZED, "c", {}, 1, 64, 1, machine, **fields)


def test_the_phase_is_written_and_read_and_older_files_without_it_still_read() -> None:
    from pytest_quantbench.records import LatencyStats

    stats = LatencyStats(4.0, 4.0, 4.0, 4.0, 10, 0.01)
    record = _record(phase=Phase.GENERATE, prompt_length=48, latency=stats)
    data = serialize.dump(record)
    assert data["phase"] == "generate" and data["prompt_length"] == 48
    assert data["tokens_per_s"] == pytest.approx(64 / 4.0 * 1e3)  # 64 new tokens in 4 ms
    back = serialize.load(TimingResult, json.loads(json.dumps(data)))
    assert back == record and back.shape == Shape(1, 64, Phase.GENERATE)
    old = {k: v for k, v in serialize.dump(_record(latency=stats)).items() if k not in ("phase", "prompt_length")}
    read = serialize.load(TimingResult, old)
    assert read.phase is None and read.shape == (1, 64) and read.tokens_per_s is None
    decode = _record(phase=Phase.DECODE, latency=stats)
    assert decode.tokens_per_s == pytest.approx(1 / 4.0 * 1e3)  # one token per row per call


def test_a_decoders_row_shows_its_speed_ups_by_phase_and_other_rows_their_range() -> None:
    import dataclasses

    from pytest_quantbench.reports.terminal import speed_cell
    from pytest_quantbench.results.records import ConfigInfo, TimedCase
    from pytest_quantbench.results.rows import ConfigRow, ShapeRow

    def at(phase: Phase | None, length: int, speedup: float) -> ShapeRow:
        record = dataclasses.replace(_record(phase=phase), input_length=length, speedup=speedup, speedup_ci95_rel=0.01)
        return ShapeRow(TimedCase(f"int8-c-{record.shape.id}", record, "onnxruntime"))

    config = ConfigInfo("c", {}, "fp32")
    decoder = [at(Phase.GENERATE, 16, 1.4), at(Phase.DECODE, 64, 1.5), at(Phase.PREFILL, 64, 1.02),
               at(Phase.DECODE, 32, 1.45)]  # fmt: skip
    row = ConfigRow("s", config, shapes=tuple(decoder))
    assert list(row.phase_speedups) == [Phase.PREFILL, Phase.DECODE, Phase.GENERATE]
    assert speed_cell(row) == "prefill x1.02 decode x1.45..x1.50 generate x1.40"
    classifier = ConfigRow("s", config, shapes=(at(None, 16, 1.2), at(None, 64, 1.5)))
    assert classifier.phase_speedups == {} and speed_cell(classifier) == "x1.20..x1.50"


def test_a_slow_weight_only_decoder_is_told_what_bounds_its_phase() -> None:
    from pytest_quantbench.records import Profile, QuantizationReport
    from pytest_quantbench.runtimes import onnxruntime_speed as ort
    from pytest_quantbench.runtimes.speed_rules import SpeedFacts
    from pytest_quantbench.suite import QuantConfig
    from pytest_quantbench.suite.records import WeightOnly

    report = QuantizationReport({"MatMul": 4}, 4, False)
    int8 = Profile({"MatMulNBits": 6.0, "Add": 4.0})

    def found(shape: str, level: int | None = None) -> tuple[str, str]:
        config = QuantConfig(quantization_approach="weight_only", weight_only=WeightOnly(accuracy_level=level))
        got = ort.WeightOnlyBlocks().detect(SpeedFacts(config, report, Profile({"MatMul": 8.0}), int8, 99, shape))
        assert got is not None
        return got.cause, got.fix

    cause, fix = found("prefill-bs1-len64")
    assert "dequantizes its blocks at every call" in cause and "prefill is compute-bound" in cause
    assert fix.startswith("judge weight-only by its decode phase")
    cause, fix = found("decode-bs1-ctx64")
    assert "decode is memory-bound" in cause and fix.startswith("weight_only: {accuracy_level: 4}")
    assert found("decode-bs1-ctx64", 4)[1] == "quantization_approach: dynamic for speed"
    assert found("bs1-len64")[0].endswith("bound by reading weights")  # other tasks' words unchanged


def test_static_calibration_rows_get_a_masked_one_position_cache() -> None:
    from pytest_quantbench.tasks import BUILTIN

    tasks = {task.name: task for task in BUILTIN}
    declared = declared_inputs(FakeDecoder())
    rows = {"input_ids": [[5, 6, 7], [8, 9, 1]], "attention_mask": [[1, 1, 1], [1, 1, 0]]}
    out = tasks["text-generation"].calibration_rows(rows, declared)
    assert out["attention_mask"] == [[0, 1, 1, 1], [0, 1, 1, 0]] and out["input_ids"] is rows["input_ids"]
    assert np.asarray(out["past_key_values.0.value"]).shape == (2, HEADS, 1, SIZE)
    assert not np.asarray(out["past_key_values.0.key"]).any()
    assert tasks["text-classification"].calibration_rows(rows, declared) is rows


def test_a_users_session_declares_what_it_has() -> None:
    class Typed:
        name = "x"
        type = object()  # an onnx TypeProto, say: not ONNX Runtime's type string
        shape = None

    class Session:
        def get_inputs(self) -> list[Any]:
            return [Typed()]

    assert declared_inputs(Session()) == (TensorSpec("x", (), "float32"),)
    assert output_names(Session()) == ()


@pytest.mark.parametrize("time", ["{phases: [decode]}", "{new_tokens: 8}"])
def test_phases_of_a_task_without_a_cache_are_one_line_naming_the_field(tmp_path: Path, time: str) -> None:
    from pytest_quantbench.errors import SuiteError

    with pytest.raises(SuiteError) as info:
        _suite(tmp_path, time, "text-classification")
    field = "time.phases" if "phases" in time else "time.new_tokens"
    assert str(info.value) == (
        f"{tmp_path / 's.suite.yaml'}: {field}: task text-classification has no key/value cache to time by phase "
        "(only a decoder, text-generation)"
    )
