"""`benchmarked:` as a list of grids: the union of each grid's configs, engines side by side, and the settings
an engine would silently leave unread refused in one line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from malformed_suites import BASE

from pytest_quantbench.errors import SuiteError
from pytest_quantbench.results.records import suite_info
from pytest_quantbench.suite import load_suite

SIDE_BY_SIDE = """
fixed:
  nncf: {preset: mixed}
  framework_args: {opset: 13, optimization_level: 1, intra_op_num_threads: 1}
benchmarked:
  - framework: [openvino]
    quantization_approach: [static, weight_only]
  - framework: [onnxruntime]
    quantization_approach: [static]
    per_channel: [false, true]
  - framework: [pytorch]
    quantization_approach: [dynamic]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "demo.suite.yaml"
    path.write_text(BASE + textwrap.dedent(text))
    return path


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(SuiteError) as info:
        load_suite(write(tmp_path, text))
    return str(info.value)


def test_a_list_of_grids_is_the_union_of_each_grids_configs(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, SIDE_BY_SIDE))
    assert [c.id for c in suite.cases] == [
        "openvino-static", "openvino-weight_only", "onnxruntime-static-per_tensor", "onnxruntime-static-per_channel",
        "pytorch-dynamic",
    ]  # fmt: skip
    by_id = {c.id: c for c in suite.cases}
    assert by_id["onnxruntime-static-per_channel"].config.per_channel is True
    assert by_id["openvino-static"].config.per_channel is False  # not its grid's: the default
    # fixed settings apply to every config; each engine reads its own (nncf: OpenVINO, the session level: ORT)
    assert {c.config.nncf.preset for c in suite.cases} == {"mixed"}
    assert {c.config.framework_args.optimization_level for c in suite.cases} == {1}
    # each row is paired with its own engine's fp32 model, named by it
    assert [c.baseline_id for c in suite.cases] == [
        "fp32-openvino", "fp32-openvino", "fp32-onnxruntime", "fp32-onnxruntime", "fp32-pytorch",
    ]  # fmt: skip
    # the reports list the union of the grids' settings
    assert suite_info(suite).benchmarked["framework"] == ["openvino", "onnxruntime", "pytorch"]
    assert suite_info(suite).benchmarked["per_channel"] == [False, True]


def test_one_grid_given_as_a_list_of_one_keeps_the_mappings_ids(tmp_path: Path) -> None:
    grid = "  per_channel: [false, true]\n  operators_to_quantize: [[MatMul]]\n"
    mapping = load_suite(write(tmp_path, "benchmarked:\n" + grid))
    listed = load_suite(write(tmp_path, "benchmarked:\n  -" + grid[1:].replace("\n  op", "\n    op")))
    assert [c.id for c in listed.cases] == [c.id for c in mapping.cases] == ["per_tensor-MatMul", "per_channel-MatMul"]
    assert [c.baseline_id for c in mapping.cases] == ["fp32", "fp32"]
    assert [c.config for c in listed.cases] == [c.config for c in mapping.cases]


def test_a_grid_without_framework_beside_one_that_names_it_shares_the_named_fp32(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path,
            """
benchmarked:
  - per_channel: [true]
  - framework: [pytorch]
""",
        )
    )
    assert [c.baseline_id for c in suite.cases] == ["fp32-onnxruntime", "fp32-pytorch"]


def test_card_shows_a_dash_for_a_setting_of_another_grid(tmp_path: Path) -> None:
    from pytest_quantbench.reports import card

    suite = suite_info(load_suite(write(tmp_path, SIDE_BY_SIDE)))
    assert card._settings_header(suite)[:3] == ["framework", "quantization_approach", "per_channel"]
    assert card._settings(suite, "openvino-static") == ["`openvino`", "`static`", "-"]
    assert card._settings(suite, "onnxruntime-static-per_channel") == ["`onnxruntime`", "`static`", "`True`"]


@pytest.mark.parametrize(
    ("grids", "field", "message"),
    [
        # an engine's own grid writing a setting it does not read: a silent no-op, refused
        ("  - {framework: [openvino], quantization_approach: [static], per_channel: [true]}\n",
         "benchmarked[0].per_channel", "framework openvino does not read per_channel"),
        ("  - {framework: [onnxruntime]}\n  - {framework: [openvino], quantization_approach: [static], "
         "calibration: [{method: entropy}]}\n",
         "benchmarked[1].calibration.method", "framework openvino does not read calibration.method"),
        ("  - {framework: [onnxruntime], nncf: [{preset: mixed}]}\n",
         "benchmarked[0].nncf.preset", "framework onnxruntime does not read nncf.preset"),
        ("  - {framework: [pytorch], calibration: [{num_calibration_samples: 10}]}\n",
         "benchmarked[0].calibration.num_calibration_samples", "framework pytorch does not read"),
        ("  - {framework: [openvino], quantization_approach: [weight_only], "
         "framework_args: [{optimization_level: 1}]}\n",
         "benchmarked[0].framework_args.optimization_level", "does not read framework_args.optimization_level"),
        # two grids giving the same config
        ("  - {per_channel: [true]}\n  - {per_channel: [true]}\n",
         "benchmarked", "two configs have the id per_channel"),
        # a fixed setting is checked against every grid
        ("  - {framework: [pytorch], per_channel: [true]}\n", "benchmarked[0].per_channel", "also in 'fixed'"),
        ("  - {framework: [pytorch], quantization_approach: [static]}\n", "benchmarked[0].framework",
         "pytorch runs dynamic quantization only"),
        ("  - {framework: [onnxruntime]}\n  - {preset: [static_u8s8], framework: [onnxruntime]}\n",
         "benchmarked[1].framework", "is set by 'preset'"),
    ],
)  # fmt: skip
def test_grid_refusals_name_the_grid_and_field(tmp_path: Path, grids: str, field: str, message: str) -> None:
    fixed = "fixed: {per_channel: false}\n" if "also in" in message else ""
    error = refusal(tmp_path, fixed + "benchmarked:\n" + grids)
    assert f"demo.suite.yaml: {field}: " in error
    assert message in error
    assert "\n" not in error


def test_a_fixed_setting_no_config_reads_is_refused(tmp_path: Path) -> None:
    # one engine: its fixed settings must mean something to it
    error = refusal(tmp_path, "fixed: {framework: openvino, quantization_approach: static, reduce_range: true}\n")
    assert (
        "demo.suite.yaml: fixed.reduce_range: no config of this suite reads it (framework openvino does not)" in error
    )
    error = refusal(
        tmp_path,
        "fixed: {calibration: {method: entropy}}\nbenchmarked:\n"
        "  - {framework: [openvino], quantization_approach: [static]}\n  - {framework: [pytorch]}\n",
    )
    assert "fixed.calibration.method: no config of this suite reads it (framework openvino nor pytorch" in error
    # read by one engine of the suite: applies to its configs alone
    suite = load_suite(
        write(
            tmp_path,
            "fixed: {calibration: {method: entropy}}\nbenchmarked:\n"
            "  - {framework: [openvino], quantization_approach: [static]}\n  - {framework: [onnxruntime]}\n",
        )
    )
    assert [c.id for c in suite.cases] == ["openvino-static", "onnxruntime"]


def test_an_empty_list_of_grids_is_refused(tmp_path: Path) -> None:
    assert "benchmarked: is an empty list of grids" in refusal(tmp_path, "benchmarked: []\n")
    assert "benchmarked[1].per_chanel: unknown field (did you mean 'per_channel'?)" in refusal(
        tmp_path, "benchmarked:\n  - {per_channel: [true]}\n  - {per_chanel: [true]}\n"
    )


def test_shipped_side_by_side_suite_shares_the_single_engine_suites_builds() -> None:
    """The ONNX Runtime rows of the side-by-side suite are configs of the static-u8s8 and weight-only suites
    (the quantizer's key reads every setting but the session's and NNCF's), so the cache builds them once."""
    benchmarks = Path(__file__).parents[2] / "benchmarks"
    side = {c.id: c for c in load_suite(benchmarks / "minilm-sentiment-openvino.suite.yaml").cases}
    u8s8 = load_suite(benchmarks / "minilm-sentiment-static-u8s8.suite.yaml").cases[1]
    int4 = load_suite(benchmarks / "minilm-sentiment-weight-only.suite.yaml").cases[0]
    torch = {c.id: c for c in load_suite(benchmarks / "minilm-sentiment.suite.yaml").cases}

    def built(config: object) -> dict[str, object]:
        return {k: v for k, v in vars(config).items() if k not in ("framework_args", "nncf")}

    engines = {c.config.framework for c in side.values()}
    assert engines == {"onnxruntime", "openvino", "pytorch"}
    ort = [c for c in side.values() if c.config.framework == "onnxruntime"]
    assert [built(c.config) for c in ort] == [built(u8s8.config), built(int4.config)]
    pytorch = next(c for c in side.values() if c.config.framework == "pytorch")
    same = torch["pytorch-Add+MatMul-per_channel"].config
    assert (pytorch.config.operators_to_quantize, pytorch.config.per_channel) == (
        same.operators_to_quantize, same.per_channel,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("settings", "field", "message"),
    [
        ("fixed: {quantizer: nncff}\n", "fixed.quantizer",
         "unknown value 'nncff' (did you mean 'nncf'? known: onnxruntime, nncf) for framework onnxruntime"),
        ("fixed: {framework: pytorch, quantizer: nncf}\n", "fixed.quantizer", "for framework pytorch"),
        ("fixed: {quantizer: nncf}\n", "fixed.framework",
         "onnxruntime with quantizer nncf runs static and weight_only quantization only"),
        ("fixed: {quantization_approach: static}\nbenchmarked:\n  - {quantizer: [nncf], per_channel: [true]}\n",
         "benchmarked[0].per_channel", "framework onnxruntime does not read per_channel"),
        ("fixed: {quantization_approach: static, quantizer: nncf, nncf: {accuracy_control: {}}}\n",
         "fixed.nncf.accuracy_control", "no config of this suite reads it"),
    ],
)  # fmt: skip
def test_a_second_quantizer_is_checked_like_a_backend(tmp_path: Path, settings: str, field: str, message: str) -> None:
    error = refusal(tmp_path, settings)
    assert f"demo.suite.yaml: {field}: " in error and message in error


def test_nncf_on_onnxruntime_reads_nncf_and_its_own_name_is_the_default(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path,
            "fixed: {quantization_approach: static, nncf: {preset: mixed}}\n"
            "benchmarked: {quantizer: [onnxruntime, nncf]}\n",
        )
    )
    assert [c.id for c in suite.cases] == ["onnxruntime", "nncf"]
    assert [c.config.quantizer for c in suite.cases] == ["onnxruntime", "nncf"]
    assert [c.baseline_id for c in suite.cases] == ["fp32", "fp32"]  # one runtime: one fp32 model


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("fixed: {framework: openvino, quantization_approach: static, nncf: {awq: true}}\n",
         "fixed.nncf: awq needs quantization_approach: weight_only with weight_only.bits: 4"),
        ("fixed: {framework: openvino, quantization_approach: weight_only, weight_only: {bits: 8}, "
         "nncf: {awq: true, scale_estimation: true}}\n",
         "fixed.nncf: awq and scale_estimation need quantization_approach: weight_only with weight_only.bits: 4"),
    ],
)  # fmt: skip
def test_data_aware_weight_compression_is_for_int4_only(tmp_path: Path, settings: str, message: str) -> None:
    assert message in refusal(tmp_path, settings)


def test_data_aware_options_name_the_config_and_leave_other_configs_keys_alone(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path,
            "fixed: {framework: openvino, quantization_approach: weight_only}\n"
            "benchmarked: {nncf: [{}, {awq: true}, {awq: true, scale_estimation: true}]}\n",
        )
    )
    assert [c.id for c in suite.cases] == ["performance", "performance-awq", "performance-awq-se"]
    # the record's repr keys the artifacts: a data-free config's is as it was before the options existed
    assert "awq" not in repr(suite.cases[0].config.nncf) and "awq" not in repr(suite.cases[1].config.nncf)
    assert suite.cases[1].config.nncf != suite.cases[0].config.nncf
    # ONNX Runtime's own quantizer leaves nncf: fixed data-aware options beside it apply to OpenVINO alone
    mixed = load_suite(
        write(
            tmp_path,
            "fixed: {nncf: {scale_estimation: true}}\nbenchmarked:\n"
            "  - {framework: [openvino], quantization_approach: [weight_only]}\n"
            "  - {framework: [onnxruntime], quantization_approach: [static]}\n",
        )
    )
    assert [c.id for c in mixed.cases] == ["openvino-weight_only", "onnxruntime-static"]
