"""Suite files: grid expansion, ids, thresholds and one-line errors naming file and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from malformed_suites import BASE, MALFORMED

from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite import Threshold, load_suite


def write(tmp_path: Path, text: str, name: str = "demo.suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_seed_001_grid_expands_to_readable_ids(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path,
            BASE
            + """
fixed:
  quantization_approach: dynamic
  node_exclusion: []
  framework_args: {opset: 13, optimization_level: 1, intra_op_num_threads: 4}
benchmarked:
  operators_to_quantize: [[Add, MatMul], [Add]]
  per_channel: [false, true]
time: {batch_sizes: [1, 4, 8], input_lengths: [32, 64, 128]}
thresholds: {accuracy: {max_drop: 0.01}}
""",
        )
    )
    assert [c.id for c in suite.cases] == [
        "Add+MatMul-per_tensor", "Add+MatMul-per_channel", "Add-per_tensor", "Add-per_channel",
    ]  # fmt: skip
    case = suite.cases[1]
    assert case.config.per_channel is True
    assert case.config.operators_to_quantize == ("Add", "MatMul")
    assert case.config.framework_args.intra_op_num_threads == 4
    assert case.config.framework_args.opset == 13
    assert case.thresholds.by_key() == {"accuracy": Threshold(max_drop=0.01)}
    assert len(suite.shapes) == 9
    assert case.baseline_id == "fp32"


def test_defaults_gate_every_metric_and_name_from_file(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path,
            """
task: token-classification
model_name_or_path: m
dataset: {path: conll2003}
""",
            name="ner.suite.yaml",
        )
    )
    assert suite.name == "ner"
    assert suite.metrics == ("precision", "recall", "f1", "accuracy")
    (case,) = suite.cases
    assert case.id == "dynamic"
    assert {m: t.max_drop for m, t in case.thresholds.metrics} == dict.fromkeys(suite.metrics, 0.01)
    assert suite.dataset.ref_keys == ("ner_tags",)


def test_overrides_set_thresholds_and_expect_per_config(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path,
            BASE
            + """
benchmarked:
  quantization_approach: [dynamic, static]
  per_channel: [false, true]
overrides:
  - when: {quantization_approach: static}
    expect: collapse
  - when: {quantization_approach: dynamic, per_channel: true}
    thresholds: {accuracy: {min_ratio: 0.99, min: 0.5}}
""",
        )
    )
    by_id = {c.id: c for c in suite.cases}
    assert by_id["static-per_tensor"].expect == "collapse"
    assert by_id["dynamic-per_tensor"].expect is None
    assert by_id["dynamic-per_channel"].thresholds.by_key()["accuracy"] == Threshold(min_ratio=0.99, min=0.5)
    assert by_id["dynamic-per_tensor"].thresholds.by_key()["accuracy"] == Threshold(max_drop=0.01)


def test_benchmarked_framework_args_give_separate_baselines(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path,
            BASE
            + """
benchmarked:
  framework_args: [{opset: 13}, {opset: 17, intra_op_num_threads: 2}]
""",
        )
    )
    assert [c.baseline_id for c in suite.cases] == ["fp32-opset13-O99-t1", "fp32-opset17-O99-t2"]


def test_settings_are_json_data(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path,
            BASE
            + """
benchmarked:
  calibration: [{method: minmax, num_calibration_samples: 10}]
  node_exclusion: [[softmax]]
""",
        )
    )
    settings = suite.cases[0].settings()
    assert settings["calibration"]["num_calibration_samples"] == 10
    assert settings["node_exclusion"] == ["softmax"]


@pytest.mark.parametrize(("text", "field", "message"), MALFORMED, ids=[b[2] for b in MALFORMED])
def test_bad_suite_gives_one_line_naming_file_and_field(tmp_path: Path, text: str, field: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    line = str(info.value)
    assert "\n" not in line
    assert line.startswith(str(path))
    assert info.value.field == field
    assert message in line


def test_missing_file_is_a_suite_error(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="cannot read file"):
        load_suite(tmp_path / "nope.suite.yaml")


def test_yaml_is_data_only(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="invalid YAML"):
        load_suite(write(tmp_path, BASE + "evil: !!python/object/apply:os.system ['true']\n"))


def test_expect_fail_documents_a_known_gate_failure(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path,
            BASE + "benchmarked: {per_channel: [false, true]}\n"
            "overrides: [{when: {per_channel: true}, expect: fail}]\n",
        )
    )
    assert [c.expect for c in suite.cases] == [None, "fail"]


def test_confidence_fidelity_speed_size_and_memory_thresholds(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path,
            BASE
            + """
thresholds:
  accuracy: {max_drop: 0.01, confidence: 0.95, on_inconclusive: pass}
  agreement: {min: 0.99}
  cosine: {min: 0.999}
  speedup: {min: 1.5}
  size: {max_ratio: 0.35}
  memory: {max_ratio: 0.6}
""",
        )
    )
    assert suite.cases[0].thresholds.by_key() == {
        "accuracy": Threshold(max_drop=0.01, confidence=0.95, on_inconclusive="pass"),
        "agreement": Threshold(min=0.99),
        "cosine": Threshold(min=0.999),
        "speedup": Threshold(min=1.5),
        "size": Threshold(max_ratio=0.35),
        "memory": Threshold(max_ratio=0.6),
    }
    gates = suite.cases[0].thresholds  # each named gate in its own typed field, the metrics apart
    assert [name for name, _ in gates.metrics] == ["accuracy"]
    assert [name for name, _ in gates.fidelity] == ["agreement", "cosine"]
    assert (gates.speedup, gates.size, gates.memory) == (
        Threshold(min=1.5),
        Threshold(max_ratio=0.35),
        Threshold(max_ratio=0.6),
    )


def test_a_suite_without_references_gates_on_agreement(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, BASE.replace("ref_keys: [label]", "ref_keys: []")))
    assert suite.dataset.ref_keys == () and suite.metrics == ()
    assert suite.cases[0].thresholds.by_key() == {"agreement": Threshold(min=0.99)}
