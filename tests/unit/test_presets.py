"""`preset:` — sentence-transformers' int8 exports by name: each expands to exactly the optimum configuration
sentence-transformers quantizes with, the case ids and settings name it, and a setting it sets may not be given
beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_quantbench.artifacts.quantize import ort_quantization_config
from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite import load_suite
from pytest_quantbench.suite.records import CONFIG_PRESETS, SENTENCE_TRANSFORMERS_PRESETS

HEAD = "task: feature-extraction\nmodel_name_or_path: some/model\ndataset: {path: glue}\n"
# each preset and the `AutoQuantizationConfig` target sentence-transformers calls with is_static=False
TARGETS = {"qint8_avx512_vnni": "avx512_vnni", "qint8_avx512": "avx512", "qint8_arm64": "arm64", "quint8_avx2": "avx2"}
FIELDS = (
    "is_static", "format", "mode", "activations_dtype", "weights_dtype", "activations_symmetric",
    "weights_symmetric", "per_channel", "reduce_range", "operators_to_quantize", "nodes_to_exclude",
)  # fmt: skip


def _suite(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "presets.suite.yaml"
    path.write_text(HEAD + body)
    return path


def test_every_preset_is_named_and_reproduces_sentence_transformers_exactly(tmp_path: Path) -> None:
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    assert set(TARGETS) == set(SENTENCE_TRANSFORMERS_PRESETS) == set(CONFIG_PRESETS) - {"static_u8s8"}
    suite = load_suite(_suite(tmp_path, f"benchmarked: {{preset: {list(TARGETS)}}}\n"))
    assert [case.id for case in suite.cases] == list(TARGETS)
    for case in suite.cases:
        assert case.settings() == {"preset": case.id}  # what the card and the run's JSON print
        ours = ort_quantization_config(case.config, [])
        theirs = getattr(AutoQuantizationConfig, TARGETS[case.id])(is_static=False)
        assert {f: getattr(ours, f) for f in FIELDS} == {f: getattr(theirs, f) for f in FIELDS}, case.id


def test_the_static_preset_is_the_fastest_x86_static_config(tmp_path: Path) -> None:
    (case,) = load_suite(_suite(tmp_path, "fixed: {preset: static_u8s8}\n")).cases
    config = case.config
    assert case.id == "static_u8s8" and config.is_static and config.format == "qdq"
    assert (config.activations_dtype, config.weights_dtype, config.per_channel) == ("uint8", "int8", True)
    assert config.fp32_outputs == config.operators_to_quantize == ("MatMul",) and config.calibration.padding == "none"


def test_a_fixed_preset_names_the_config_and_leaves_the_other_settings_free(tmp_path: Path) -> None:
    body = "fixed: {preset: quint8_avx2, framework_args: {intra_op_num_threads: 2}, node_exclusion: [gelu]}\n"
    (case,) = load_suite(_suite(tmp_path, body)).cases
    assert case.id == "quint8_avx2" and case.config.weights_dtype == "uint8" and case.config.per_channel
    assert case.config.framework_args.intra_op_num_threads == 2 and case.config.node_exclusion == ("gelu",)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("fixed: {preset: qint8_arm64, per_channel: false}\n", "fixed.per_channel"),
        ("fixed: {weights_dtype: uint8}\nbenchmarked: {preset: [qint8_arm64]}\n", "fixed.weights_dtype"),
        ("fixed: {preset: qint8_arm64}\nbenchmarked: {quantization_approach: [static]}\n",
         "benchmarked.quantization_approach"),
    ],
)  # fmt: skip
def test_a_setting_beside_a_preset_is_one_line_naming_it(tmp_path: Path, body: str, field: str) -> None:
    with pytest.raises(SuiteError) as info:
        load_suite(_suite(tmp_path, body))
    assert info.value.field == field
    assert info.value.message.startswith("is set by 'preset' (sentence-transformers' export of that name)")


def test_an_unknown_preset_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(SuiteError) as info:
        load_suite(_suite(tmp_path, "fixed: {preset: qint8_avx2}\n"))
    assert info.value.field == "fixed.preset" and "quint8_avx2" in info.value.message
