"""A decoder's latency cases by phase (`time.phases`): prefill with an empty cache, one decode step with the
cache of a real prefill, and a greedy loop of new tokens, each paired against fp32 as every latency case is.

The tiny Llama has 64 positions: the default input length (128) is cut to them, the decode cache to 63 and the
generate prompt to 64 - new tokens, so the defaults run. Its export carries the cache (text-generation-with-
past), and its scores with an empty cache are the ones a model without a cache gives (`test_language_models`
checks them against PyTorch; here against the checkpoint itself).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import tiny_models as tm

SUITE = """
    name: phases
    task: text-generation
    model_name_or_path: {model}
    dataset: {dataset}
    metrics: [perplexity]
    fixed: {{quantization_approach: weight_only}}
    benchmarked: {{weight_only: [{{bits: 8, block_size: 16}}]}}
    thresholds: {{perplexity: {{min_ratio: 0.01}}, top1_agreement: {{min: 0.0}}}}
    time: {{batch_sizes: [1], rounds: 2, warmup_rounds: 0, new_tokens: 4}}
"""


@pytest.fixture(scope="module")
def decoder64(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[str]]:
    """A tiny Llama of 64 positions, the suite's `dataset:` mapping (6 documents per split) and the evaluated
    texts."""
    import transformers

    root = tmp_path_factory.mktemp("decoder64")
    model = tm.decoder_model(root / "llama", "llama", init_range=0.5)
    config = transformers.AutoConfig.from_pretrained(model)
    config.max_position_embeddings = 64
    config.save_pretrained(model)
    for split, seed in (("train", 1), ("validation", 2)):
        (root / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tm.documents(6, seed)))
    files = {split: str(root / f"{split}.jsonl") for split in ("train", "validation")}
    texts = [row["text"] for row in tm.documents(6, 2)]
    return model, f"{{path: json, data_files: {json.dumps(files)}, max_length: 16}}", texts


def perplexity_of_checkpoint(model: Path, texts: list[str], length: int) -> float:
    """The checkpoint's own perplexity in PyTorch, with the task's windows (no cache at all)."""
    import torch
    import transformers

    from pytest_quantbench.tasks.text_generation import log_probs, windows

    tokenizer = transformers.AutoTokenizer.from_pretrained(model)
    lm = transformers.AutoModelForCausalLM.from_pretrained(model).eval()
    total, count = 0.0, 0
    for text in texts:
        ids = tokenizer(text)["input_ids"]
        for w in windows(len(ids), length, length // 2):
            with torch.no_grad():
                logits = lm(torch.tensor([ids[w.begin : w.end]]), use_cache=False).logits[0].numpy()
            targets = ids[w.first : w.end]
            logp = log_probs(logits[w.first - w.begin - 1 : w.end - w.begin - 1])
            total -= float(sum(logp[i, t] for i, t in enumerate(targets)))
            count += len(targets)
    return math.exp(total / count)


def memory_children(cache: Path) -> int:
    """How many peak-memory child processes the runs on `cache` started (one a built `memory` entry)."""
    from pytest_quantbench.artifacts.cache import ArtifactCache

    return sum(build["kind"] == "memory" for build in ArtifactCache(cache).builds())


def test_a_decoder_suite_times_prefill_decode_and_generate_paired_with_fp32(
    decoder64, suite_file, run, pytester, qb_cache
) -> None:
    model, dataset, texts = decoder64
    suite_file("phases.suite.yaml", SUITE.format(model=model, dataset=dataset))
    children = memory_children(qb_cache)
    result = run("--benchmark-json=run.json", "-v", "--quantbench-card=card.md")
    result.assert_outcomes(passed=1 + 2 * 3)  # the accuracy case, and fp32 and the config at each phase
    ids = [
        "fp32-prefill-bs1-len128", "int8-w8-b16-rtn-prefill-bs1-len128",
        "fp32-decode-bs1-ctx128", "int8-w8-b16-rtn-decode-bs1-ctx128",
        "fp32-generate-bs1-new4", "int8-w8-b16-rtn-generate-bs1-new4",
    ]  # fmt: skip
    result.stdout.fnmatch_lines_random([f"*latency[[]{case_id}[]] PASSED*" for case_id in ids])
    data = json.loads((pytester.path / "run.json").read_text())
    records = {b["param"]: b["extra_info"] for b in data["benchmarks"]}
    assert set(records) == set(ids)
    # the lengths as timed: the default prompt cut to the 64 positions, the cache leaves room for one token and
    # the generate prompt for its 4
    shapes = ("prefill-bs1-len128", "decode-bs1-ctx128", "generate-bs1-new4")
    prefill, decode, generate = (records[f"int8-w8-b16-rtn-{shape}"] for shape in shapes)
    assert (prefill["phase"], prefill["input_length"], prefill["prompt_length"]) == ("prefill", 64, None)
    assert (decode["phase"], decode["input_length"]) == ("decode", 63)
    assert (generate["phase"], generate["input_length"], generate["prompt_length"]) == ("generate", 4, 60)
    for record in (prefill, decode, generate):
        assert record["speedup"] > 0 and record["paired_fp32"]["rounds"] == record["latency"]["rounds"] == 2
        assert record["tokens_per_s"] > 0
    assert generate["tokens_per_s"] == pytest.approx(4 / generate["latency"]["mean_ms"] * 1e3)
    # every phase has its peak memory, each under its own shape as timed (all of a model's in one child)
    as_timed = {"prefill-bs1-len64": prefill, "decode-bs1-ctx63": decode, "generate-bs1-new4": generate}
    for shape, record in as_timed.items():
        for memory in (record["memory"], record["fp32_memory"]):
            assert memory["shape"] == shape and memory["run_peak_bytes"] > 0 and memory["load_peak_bytes"] > 0
        assert record["memory_ratio"] > 0
    assert memory_children(qb_cache) - children == 2  # one per model (fp32, int8) for its three phases
    # the terminal's row gives the speed-up per phase, the card a time table per phase shape
    result.stdout.re_match_lines([r".*w8-b16-rtn.*prefill x[\d.]+ decode x[\d.]+ generate x[\d.]+.*PASS"])
    card = (pytester.path / "card.md").read_text()
    for where in ("prefill, batch size = 1, input length = 64", "decode, batch size = 1, context length = 63",
                  "generate, batch size = 1, new tokens = 4"):  # fmt: skip
        assert f"Below, time metrics for {where}." in card
    lines = card.splitlines()
    rows = [lines[i + 4].split("|") for i, line in enumerate(lines) if line.startswith("Below, time metrics for")]
    assert len(rows) == 3  # under each phase's header and rule, its row ends with the run peaks' ratio, not "-"
    assert all(re.fullmatch(r"x\d+\.\d\d", row[-2].strip()) for row in rows), rows
    # scoring feeds the cache-carrying export an empty cache: the scores of the checkpoint without one
    accuracy = data["quantbench"]["accuracy"][0]["metrics"]["perplexity"]
    assert accuracy["original"] == pytest.approx(perplexity_of_checkpoint(model, texts, 16), rel=1e-4)


def test_a_static_config_calibrates_the_cache_carrying_export_and_scores(decoder64, tmp_path: Path, qb_cache) -> None:
    from pytest_quantbench.bench import Bench
    from pytest_quantbench.suite import load_suite

    model, dataset, _ = decoder64
    path = tmp_path / "static.suite.yaml"
    path.write_text(
        f"task: text-generation\nmodel_name_or_path: {model}\ndataset: {dataset}\n"
        "fixed: {quantization_approach: static, calibration: {num_calibration_samples: 4}}\n"
        "thresholds: {perplexity: {min_ratio: 0.01}}\n"
    )
    evaluation = Bench(qb_cache).evaluate(load_suite(path).cases[0])
    assert evaluation.report.quantized_nodes.get("MatMul", 0) >= 1  # calibrated with a masked cache, quantized
    assert 1.0 < evaluation.quantized["perplexity"] < 10 * evaluation.original["perplexity"]


def test_pytorch_decodes_with_its_cache_beside_onnx_runtime(decoder64, suite_file, run, pytester) -> None:
    model, dataset, _ = decoder64
    suite_file(
        "torch.suite.yaml",
        f"""
        name: torch
        task: text-generation
        model_name_or_path: {model}
        dataset: {dataset}
        fixed: {{quantization_approach: dynamic}}
        benchmarked: {{framework: [onnxruntime, pytorch]}}
        thresholds: {{top1_agreement: {{min: 0.0}}}}
        time: {{input_lengths: [8], rounds: 2, warmup_rounds: 0, phases: [decode, generate], new_tokens: 3}}
        """,
    )
    result = run("--benchmark-json=run.json", "-m", "latency")
    result.assert_outcomes(passed=2 * 4)  # per phase: both backends' fp32 and int8
    records = {b["param"]: b["extra_info"] for b in json.loads((pytester.path / "run.json").read_text())["benchmarks"]}
    torch = {name: r for name, r in records.items() if "pytorch" in name}
    assert sorted(torch) == [
        "fp32-pytorch-decode-bs1-ctx8", "fp32-pytorch-generate-bs1-new3",
        "int8-pytorch-decode-bs1-ctx8", "int8-pytorch-generate-bs1-new3",
    ]  # fmt: skip
    assert all(r["latency"]["mean_ms"] > 0 and r["baseline"] == "pytorch" for r in torch.values())
    assert torch["int8-pytorch-decode-bs1-ctx8"]["speedup"] > 0
    # both engines' generate peak (a prompt of 8, then its last step after a cache of 9) is not below their
    # decode peak after a cache of 8: a generation holds a prefill and longer decode steps
    for model in ("fp32-onnxruntime", "int8-onnxruntime", "fp32-pytorch", "int8-pytorch"):
        decode, generate = (records[f"{model}-{phase}"]["memory"] for phase in ("decode-bs1-ctx8", "generate-bs1-new3"))
        assert generate["shape"] == "generate-bs1-new3" and generate["run_peak_bytes"] >= decode["run_peak_bytes"] > 0
