"""Weight-only modes on a tiny random Llama whose layer carries an outlier weight per output (4-bit blocks
holding it round the rest to zero): named MatMuls kept at 8 bits (`weight_only.keep_8bit`, by name or glob)
and the k-quant algorithm, through a pytester session; what cannot be built is one line naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tiny_models as tm

SUITE = """
    name: modes
    task: text-generation
    model_name_or_path: {model}
    dataset: {dataset}
    fixed: {{quantization_approach: weight_only, calibration: {{num_calibration_samples: 4}}}}
    benchmarked:
      weight_only:
        - {{bits: 4, block_size: 16}}
        - {{bits: 4, block_size: 16, keep_8bit: ['*']}}
        - {{bits: 4, block_size: 16, keep_8bit: [/model/layers.0/mlp/*, /lm_head/MatMul]}}
        - {{bits: 8, block_size: 16, algorithm: k_quant}}
        - {{bits: 4, block_size: 16, algorithm: k_quant}}
        - {{bits: 4, block_size: 16, keep_8bit: [/lm_head/MatMul, lm_head, /model/layers.9/*]}}
        - {{bits: 4, block_size: 16, algorithm: gptq, keep_8bit: ['*/self_attn/*', '*gate_proj*', '*up_proj*', '/lm_head/*']}}
    thresholds: {{kl_divergence: {{max: 0.1}}, top1_agreement: {{min: 0.9}}}}
"""


@pytest.fixture(scope="module")
def decoder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("decoder")
    model = tm.decoder_model(root / "llama", "llama", init_range=0.5, outliers=8.0)
    (root / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tm.documents(12, 2)))
    files = {split: str(root / "docs.jsonl") for split in ("train", "validation")}
    return model, f"{{path: json, data_files: {json.dumps(files)}, max_length: 16}}"


def test_keep_8bit_and_k_quant_on_a_decoder(decoder, suite_file, run, pytester) -> None:
    model, dataset = decoder
    path = suite_file("modes.suite.yaml", SUITE.format(model=model, dataset=dataset))
    result = run("-k", "accuracy", "--benchmark-json=run.json")
    rows = {r["config_id"]: r for r in json.loads((pytester.path / "run.json").read_text())["quantbench"]["accuracy"]}
    int4, int8 = rows["w4-b16-rtn"], rows["w4-b16-rtn-keep8bit1"]  # every MatMul at 8 bits, by the pattern '*'
    assert (int4["verdict"], int8["verdict"]) == ("FAIL", "PASS")
    matmuls = int4["quantization"]["quantized_nodes"]["MatMul"]
    assert int4["quantization"]["weight_bits"] == {"4": matmuls} and int8["quantization"]["weight_bits"] == {
        "8": matmuls
    }
    # the layer's MLP (gate, up, down) and the head at 8 bits, its attention projections at 4
    assert rows["w4-b16-rtn-keep8bit2"]["quantization"]["weight_bits"] == {"4": matmuls - 4, "8": 4}
    kquant = rows["w8-b16-k_quant"]
    assert kquant["verdict"] == "PASS" and kquant["quantization"]["weight_bits"] == {"8": matmuls}
    # GPTQ on 4 calibration rows (with the decoder's masked cache): the down projection at 4 bits, the rest at 8
    assert rows["w4-b16-gptq-keep8bit4"]["quantization"]["weight_bits"] == {"4": 1, "8": matmuls - 1}
    assert "w4-b16-k_quant" not in rows and "w4-b16-rtn-keep8bit3" not in rows  # neither could be built
    # the diagnosis ranks the MatMuls by what each alone does to the next-token distributions (each measured end
    # to end): the layer's query projection moves them most, and the fix proposes it at 8 bits, after those
    # the config keeps there already (the LM head, with no outliers, moves them little: it ranked first only
    # while a MatMulNBits' outputs were not seen)
    query = "/model/layers.0/self_attn/q_proj/MatMul"
    assert (
        f"moves the output most quantized alone (mean KL divergence of the next-token distributions): MatMul {query}"
        in int4["diagnosis"]["line"]
    )
    assert f"fix: weight_only.keep_8bit: [{query}" in int4["diagnosis"]["line"]
    kept = rows["w4-b16-rtn-keep8bit2"]["diagnosis"]["line"]
    assert f"fix: weight_only.keep_8bit: [/model/layers.0/mlp/*, /lm_head/MatMul, {query}" in kept
    result.stdout.fnmatch_lines_random([
        f"*{path}: benchmarked.weight_only.block_size: k_quant at 4 bits needs an even number of blocks per weight "
        "column: /model/layers.0/* has 16 rows, 1 blocks of 16 (ONNX Runtime packs zero points in pairs)*",
        f"*{path}: benchmarked.weight_only.keep_8bit: 'lm_head', '/model/layers.9/[*]' matches no MatMul with a "
        "stored weight in the exported graph (names look like '/model/layers.0/*')*",
    ])  # fmt: skip


FALLBACK = """
    name: fallback
    task: text-generation
    model_name_or_path: {model}
    dataset: {dataset}
    fixed: {{quantization_approach: weight_only, weight_only: {{bits: 4, block_size: 16}}}}
    thresholds: {{kl_divergence: {{max: 0.4}}, top1_agreement: {{min: 0.9}}, generation_prefix@4: {{min: 0.2}}}}
"""


def test_the_fallback_search_keeps_the_node_that_moves_the_divergence_most_at_8_bits_and_measures_continuations(
    decoder, suite_file, run
) -> None:
    model, dataset = decoder
    suite_file("fallback.suite.yaml", FALLBACK.format(model=model, dataset=dataset))
    result = run("-k", "accuracy", "--quantbench-fallback")
    result.assert_outcomes(failed=1)  # int4 everywhere: KL 0.42; the query projection at 8 bits: 0.13
    result.stdout.fnmatch_lines([
        "*fix: weight_only.keep_8bit: [[]/model/layers.0/self_attn/q_proj/MatMul[]] (fallback search: perplexity *, "
        "kl_divergence 0.1*, "
        "top1_agreement *, generation_prefix@4 *, latency x*",
        "fallback search:",
        "  1 nodes at 8 bits: *generation_prefix@4 1.000 -> *",
    ])  # fmt: skip


EXACT = """
    name: exact
    task: text-generation
    model_name_or_path: {model}
    dataset: {dataset}
    fixed: {{quantization_approach: dynamic}}
    thresholds: {{kl_divergence: {{max: 100}}, generation_prefix@4: {{min: 0.0}}}}
"""


def test_a_decoders_exact_kernel_trial_judges_its_continuations_too(
    decoder, suite_file, run, pytester, monkeypatch
) -> None:
    """Where the U8S8 kernels saturate, the diagnosis re-judges a dynamic config on exact kernels, with every
    gate as the case is judged: a decoder's continuations included (they read "not measured" before)."""
    from pytest_quantbench.records import KernelProbe
    from pytest_quantbench.runtimes import onnxruntime_hardware

    monkeypatch.setattr(onnxruntime_hardware, "probe", lambda: KernelProbe("saturates", "exact"))
    model, dataset = decoder
    suite_file("exact.suite.yaml", EXACT.format(model=model, dataset=dataset))
    run("-k", "accuracy", "--quantbench-diagnose", "--benchmark-json=run.json")
    (row,) = json.loads((pytester.path / "run.json").read_text())["quantbench"]["accuracy"]
    assert row["hardware_risk"]["this_machine_saturates"] is True
    line = row["diagnosis"]["line"]
    assert "U8S8 kernels saturate int16 pair sums (no VNNI): with x64_quant_precision" in line
    assert "generation_prefix@4" in line and "not measured" not in line
