"""Decoder language models end to end (`task: text-generation`): a suite of dynamic int8 and weight-only
int8 and int4 configs on a tiny random Llama, scored by perplexity (lower is better) and gated on the KL
divergence and top-1 agreement of both models' next-token distributions.

The model's layer carries an outlier weight per output (`tiny_models.decoder_model(outliers=...)`): int8 keeps
the other weights, 4-bit blocks holding the outlier round them to zero, so the int4 config's KL divergence
breaks its ceiling (a decided FAIL) while the int8 ones pass. Documents run to 30 words against a 16-token
context, so the sliding window scores most of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tiny_models as tm

SUITE = """
    name: {name}
    task: text-generation
    model_name_or_path: {model}
    dataset: {dataset}
    metrics: [perplexity, nll]
    fixed: {fixed}
    benchmarked: {benchmarked}
    thresholds:
      perplexity: {{min_ratio: 0.9}}
      nll: {{max_drop: 0.1, confidence: 0.95}}
      kl_divergence: {{max: 0.1}}
      kl_divergence_p99: {{max: 5.0}}
      top1_agreement: {{min: 0.9}}
    time: {{batch_sizes: [1], input_lengths: [8], rounds: 2, warmup_rounds: 0, phases: [prefill]}}
"""
SUITES = {
    "dynamic.suite.yaml": {"name": "dynamic", "fixed": "{quantization_approach: dynamic}", "benchmarked": "{}"},
    "weights.suite.yaml": {
        "name": "weights",
        "fixed": "{quantization_approach: weight_only}",
        "benchmarked": "{weight_only: [{bits: 8, block_size: 16}, {bits: 4, block_size: 16}]}",
    },
}


@pytest.fixture(scope="module")
def decoder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The tiny Llama with outliers, and the suites' `dataset:` mapping (12 documents per split)."""
    root = tmp_path_factory.mktemp("decoder")
    model = tm.decoder_model(root / "llama", "llama", init_range=0.5, outliers=8.0)
    for split, seed in (("train", 1), ("validation", 2)):
        (root / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tm.documents(12, seed)))
    files = {split: str(root / f"{split}.jsonl") for split in ("train", "validation")}
    return model, f"{{path: json, data_files: {json.dumps(files)}, max_length: 16}}"


def accuracy_rows(pytester: pytest.Pytester) -> dict[tuple[str, str], dict]:
    data = json.loads((pytester.path / "run.json").read_text())["quantbench"]
    return {(row["suite"], row["config_id"]): row for row in data["accuracy"]}


def test_a_decoder_suite_scores_perplexity_kl_and_agreement_and_fails_the_int4_config(
    decoder, suite_file, run, pytester
) -> None:
    model, dataset = decoder
    for name, fields in SUITES.items():
        suite_file(name, SUITE.format(model=model, dataset=dataset, **fields))
    result = run("--benchmark-json=run.json")
    # 3 accuracy cases (dynamic and int8 pass, int4 fails) and 5 latency cases (each suite's fp32 one too)
    result.assert_outcomes(passed=2 + 5, failed=1)
    rows = accuracy_rows(pytester)
    dynamic, int8 = rows["dynamic", "dynamic"], rows["weights", "w8-b16-rtn"]
    int4 = rows["weights", "w4-b16-rtn"]
    assert (dynamic["verdict"], int8["verdict"], int4["verdict"]) == ("PASS", "PASS", "FAIL")

    for row in (dynamic, int8, int4):
        metrics = row["metrics"]
        ppl, nll = metrics["perplexity"], metrics["nll"]
        assert ppl["direction"] == nll["direction"] == metrics["kl_divergence"]["direction"] == "lower"
        assert metrics["top1_agreement"]["direction"] == "higher"
        # perplexity is exp of the mean NLL per token, and a model that knows nothing scores the vocabulary size
        assert ppl["original"] == pytest.approx(2.718281828459045 ** nll["original"])
        assert ppl["chance"] == float(len(__import__("transformers").AutoTokenizer.from_pretrained(model)))
        assert ppl["paired"]["n"] == 12 and ppl["paired"]["ci_low"] <= ppl["drop"] <= ppl["paired"]["ci_high"]
        assert nll["paired"]["ci_low"] <= nll["drop"] <= nll["paired"]["ci_high"]
        assert metrics["kl_divergence"]["original"] == 0.0 and metrics["kl_divergence"]["quantized"] >= 0.0
        assert metrics["kl_divergence_p99"]["quantized"] >= metrics["kl_divergence"]["quantized"]
    # MatMulNBits: int4 diverges far more from fp32 than int8 does, and agrees less on the next token
    kl = {key: row["metrics"]["kl_divergence"]["quantized"] for key, row in (("8", int8), ("4", int4))}
    assert kl["4"] > 0.1 >= kl["8"] and kl["4"] > 5 * kl["8"]
    agreement = {key: row["metrics"]["top1_agreement"]["quantized"] for key, row in (("8", int8), ("4", int4))}
    assert agreement["4"] < agreement["8"]
    assert int4["quantization"]["quantized_nodes"]["MatMul"] >= 4
    result.stdout.fnmatch_lines(["*weights.suite.yaml::accuracy[[]w4-b16-rtn[]]*kl_divergence 0.000 -> 0.*> max 0.1*"])


def _bad_suite(root: Path, model: Path, rows: list[dict], name: str) -> Path:
    for split in ("train", "validation"):
        (root / f"{name}-{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    files = {split: str(root / f"{name}-{split}.jsonl") for split in ("train", "validation")}
    path = root / f"{name}.suite.yaml"
    path.write_text(
        f"task: text-generation\nmodel_name_or_path: {model}\n"
        f"dataset: {{path: json, data_files: {json.dumps(files)}, max_length: 16}}\n"
    )
    return path


BAD_INPUTS = [
    ("no-text", "decoder", [{"sentence": "the movie"}], "dataset.data_keys.primary", "no column 'text'"),
    ("empty", "decoder", [{"text": "the movie"}, {"text": "  "}], "dataset.data_keys.primary",
     "split 'validation', row 1: 'text' is an empty document (no text to score)"),
    ("no-head", "classifier", [{"text": "the movie"}], "model_name_or_path",
     "has no head for text-generation (expected *ForCausalLM or *LMHeadModel)"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "model", "rows", "field", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_inputs_of_a_decoder_suite_are_one_line_naming_file_and_field(
    decoder, tmp_path: Path, qb_cache: Path, name: str, model: str, rows: list[dict], field: str, message: str
) -> None:
    from pytest_quantbench.bench import Bench
    from pytest_quantbench.errors import InputError
    from pytest_quantbench.suite import load_suite

    folder = decoder[0] if model == "decoder" else tm.text_model(tmp_path / "classifier")
    path = _bad_suite(tmp_path, folder, rows, name)
    with pytest.raises(InputError) as info:
        Bench(qb_cache).evaluate(load_suite(path).cases[0])
    line = str(info.value)
    assert line.startswith(f"{path}: {field}: ") and message in line and "\n" not in line


FAMILIES = [family for family in tm.DECODER_FAMILIES if family != "ctrl"]  # CTRL: optimum has no ONNX config


@pytest.fixture(scope="module")
def families(decoder, tmp_path_factory: pytest.TempPathFactory, qb_cache: Path) -> tuple[Path, str, object]:
    from pytest_quantbench.bench import Bench

    return tmp_path_factory.mktemp("families"), decoder[1], Bench(qb_cache)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_decoder_family_optimum_exports_runs_dynamic_and_weight_only(families, family: str) -> None:
    from pytest_quantbench.suite import load_suite

    root, dataset, bench = families
    model = tm.decoder_model(root / family, family, init_range=0.5)
    path = root / f"{family}.suite.yaml"
    path.write_text(
        f"task: text-generation\nmodel_name_or_path: {model}\ndataset: {dataset}\n"
        "benchmarked: {quantization_approach: [dynamic, weight_only]}\n"
        "thresholds: {perplexity: {min_ratio: 0.5}, kl_divergence: {max: 1.0}, top1_agreement: {min: 0.5}}\n"
    )
    for case in load_suite(path).cases:
        evaluation = bench.evaluate(case)
        assert evaluation.verdict.verdict is not None
        assert 1.0 < evaluation.quantized["perplexity"] < 10 * evaluation.original["perplexity"]
        measured = {r.name: r for r in evaluation.verdict.results}
        assert measured["kl_divergence"].quantized >= 0.0 and 0.0 <= measured["top1_agreement"].quantized <= 1.0
        if case.config.quantization_approach == "weight_only":
            assert evaluation.report.quantized_nodes.get("MatMul", 0) >= 1  # MatMulNBits


def test_a_decoder_family_optimum_cannot_export_is_refused_by_name(families, tmp_path: Path) -> None:
    from pytest_quantbench.errors import BuildError
    from pytest_quantbench.suite import load_suite

    _, dataset, bench = families
    model = tm.decoder_model(tmp_path / "ctrl", "ctrl")
    path = tmp_path / "ctrl.suite.yaml"
    path.write_text(f"task: text-generation\nmodel_name_or_path: {model}\ndataset: {dataset}\n")
    with pytest.raises(BuildError) as info:
        bench.evaluate(load_suite(path).cases[0])
    assert str(info.value) == f"{model}/config.json: model_type 'ctrl': optimum cannot export this architecture to ONNX"


def test_pytorch_scores_a_decoder_as_onnx_runtime_does(families, decoder) -> None:
    from pytest_quantbench.suite import load_suite

    root, dataset, bench = families
    path = root / "backends.suite.yaml"
    path.write_text(
        f"task: text-generation\nmodel_name_or_path: {decoder[0]}\ndataset: {dataset}\n"
        "benchmarked: {framework: [onnxruntime, pytorch]}\nthresholds: {perplexity: {min_ratio: 0.5}}\n"
    )
    evaluations = {case.config.framework: bench.evaluate(case) for case in load_suite(path).cases}
    onnx, torch = evaluations["onnxruntime"], evaluations["pytorch"]
    assert torch.original["perplexity"] == pytest.approx(onnx.original["perplexity"], rel=1e-4)  # the same fp32 model
    assert torch.quantized["perplexity"] != torch.original["perplexity"]  # torch's dynamic int8 changed it
