"""A decoder suite with the perplexity ratio gate (`perplexity: {max_ratio, confidence}`), greedy-continuation
agreement (`generation_agreement@4`, `generation_prefix@4`) and a `stride`, end to end on the tiny Llama (`tiny_models.decoder_model`, trained a little here so that it writes varied continuations): int4 moves it
further than int8. The fp32
model's continuations are written once for both configs. Bad inputs: a GGUF file that is missing or is not one,
and more new tokens than the context holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tiny_models as tm

SUITE = """
    name: quality
    task: text-generation
    model_name_or_path: {model}
    dataset: {dataset}
    metrics: [perplexity]
    fixed: {{quantization_approach: weight_only}}
    benchmarked: {{weight_only: [{{bits: 8, block_size: 16}}, {{bits: 4, block_size: 16}}]}}
    thresholds:
      perplexity: {{max_ratio: 1.05, confidence: 0.95, on_inconclusive: pass}}
      generation_agreement@4: {{min: 0.5, on_inconclusive: pass}}
      generation_prefix@4: {{min: 0.5, on_inconclusive: pass}}
    time: {{batch_sizes: [1], input_lengths: [8], rounds: 2, warmup_rounds: 0}}
"""


def trained(model: Path, steps: int = 300) -> Path:
    """The tiny Llama (no outliers) trained a little on `tiny_models.documents` (seeded): a model that has learnt which words
    follow which writes varied continuations, where a random one repeats one token whatever the prompt."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer, lm = AutoTokenizer.from_pretrained(model), AutoModelForCausalLM.from_pretrained(model)
    texts = [row["text"] for row in tm.documents(64, seed=7, words=(8, 12))]
    ids = [torch.tensor(tokenizer(t)["input_ids"][:16]) for t in texts]
    optimizer = torch.optim.AdamW(lm.parameters(), lr=1e-2)
    for step in range(steps):
        batch = torch.stack([i[:12] for i in ids[(step * 8) % 64 : (step * 8) % 64 + 8]])
        loss = lm(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    lm.save_pretrained(model)
    return model


@pytest.fixture(scope="module")
def decoder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("decoder")
    model = trained(tm.decoder_model(root / "llama", "llama"))
    for split, seed in (("train", 1), ("validation", 2)):
        (root / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tm.documents(20, seed)))
    files = {split: str(root / f"{split}.jsonl") for split in ("train", "validation")}
    return model, f"{{path: json, data_files: {json.dumps(files)}, max_length: 16, stride: 4}}"


def test_the_ratio_and_generation_gates_judge_a_decoder_and_fp32_continues_once(
    decoder, suite_file, run, pytester, qb_cache: Path
) -> None:
    model, dataset = decoder
    suite_file("quality.suite.yaml", SUITE.format(model=model, dataset=dataset))
    result = run("--benchmark-json=run.json")
    rows = {r["config_id"]: r for r in json.loads((pytester.path / "run.json").read_text())["quantbench"]["accuracy"]}
    int8, int4 = rows["w8-b16-rtn"], rows["w4-b16-rtn"]
    for row in (int8, int4):
        ppl = row["metrics"]["perplexity"]
        ratio = ppl["quantized"] / ppl["original"]
        paired = ppl["paired"]
        assert paired["n"] == 20 and paired["ratio_low"] <= ratio <= paired["ratio_high"]
        agreement, prefix = row["metrics"]["generation_agreement@4"], row["metrics"]["generation_prefix@4"]
        assert agreement["original"] == prefix["original"] == 1.0 and agreement["paired"]["n"] == 16  # 16 prompts
        assert 0.0 <= agreement["quantized"] <= prefix["quantized"] <= 1.0  # identical ones have no difference
        # the verdict follows the ratio's interval: FAIL only when all of it is above 1.05
        ratio_failed = paired["ratio_low"] > 1.05 + 1e-12
        assert ("max_ratio 1.05 at 95% confidence" in row["line"]) == ratio_failed
    # int4 moves the model further than int8: its continuations part from fp32's more often, and sooner
    # (measured: identical 14 and 15 of 16, prefix 0.89 and 0.95; the perplexities move within noise)
    for measure in ("generation_agreement@4", "generation_prefix@4"):
        assert int4["metrics"][measure]["quantized"] < int8["metrics"][measure]["quantized"] < 1.0
    # the fp32 model's continuations once, each quantized model's once: three entries for two configs
    assert len(list((qb_cache / "continued").iterdir())) == 3
    rerun = run("--benchmark-json=again.json")  # warm: every continuation read back, the same verdicts
    again = json.loads((pytester.path / "again.json").read_text())["quantbench"]["accuracy"]
    assert {r["config_id"]: r["verdict"] for r in again} == {k: r["verdict"] for k, r in rows.items()}
    assert len(list((qb_cache / "continued").iterdir())) == 3 and rerun.ret == result.ret


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("missing.gguf", "GGUF file {base}/missing.gguf does not exist"),
        ("fake.gguf", "{base}/fake.gguf is not a GGUF file (it does not start with GGUF)"),
    ],
)
def test_a_gguf_file_that_is_missing_or_not_gguf_is_one_line(
    decoder, tmp_path: Path, qb_cache: Path, spec: str, message: str
) -> None:
    from pytest_quantbench.bench import Bench
    from pytest_quantbench.errors import InputError
    from pytest_quantbench.suite import load_suite

    (tmp_path / "fake.gguf").write_bytes(b"PK\x03\x04 not a gguf file")
    path = tmp_path / "g.suite.yaml"
    path.write_text(f"task: text-generation\nmodel_name_or_path: {spec}\ndataset: {decoder[1]}\n")
    with pytest.raises(InputError) as info:
        Bench(qb_cache).evaluate(load_suite(path).cases[0])
    assert str(info.value) == f"{path}: model_name_or_path: " + message.format(base=tmp_path)


def test_more_new_tokens_than_the_context_holds_is_one_line(decoder, tmp_path: Path, qb_cache: Path) -> None:
    from pytest_quantbench.bench import Bench
    from pytest_quantbench.errors import InputError
    from pytest_quantbench.suite import load_suite

    model, dataset = decoder
    path = tmp_path / "long.suite.yaml"
    path.write_text(
        f"task: text-generation\nmodel_name_or_path: {model}\ndataset: {dataset}\n"
        "thresholds: {generation_agreement@16: {min: 0.5}}\n"
    )
    with pytest.raises(InputError) as info:
        Bench(qb_cache).evaluate(load_suite(path).cases[0])
    line = str(info.value)
    assert line.startswith(f"{path}: thresholds: @16: 16 new tokens leave no room for a prompt in a context of 16")
    assert "\n" not in line


def write_tiny_gguf(path: Path) -> Path:
    """A one-layer random Llama as a GGUF file (F32 tensors, a byte-level BPE vocabulary of letters), written
    with the `gguf` package as llama.cpp lays one out."""
    import gguf
    import numpy as np

    vocab = ["<|endoftext|>"] + [chr(c) for c in range(97, 123)] + ["Ġ", "Ġt", "he", "Ġthe"]
    hidden, ffn, heads = 16, 32, 4
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(64)
    writer.add_embedding_length(hidden)
    writer.add_block_count(1)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_vocab_size(len(vocab))
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(vocab)
    writer.add_token_types([3] + [1] * (len(vocab) - 1))
    writer.add_token_merges(["Ġ t", "h e", "Ġt he"])
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(0)
    rng = np.random.default_rng(0)
    shapes = {
        "token_embd.weight": (len(vocab), hidden), "output.weight": (len(vocab), hidden),
        **{f"blk.0.{n}.weight": (hidden, hidden) for n in ("attn_q", "attn_k", "attn_v", "attn_output")},
        "blk.0.ffn_gate.weight": (ffn, hidden), "blk.0.ffn_up.weight": (ffn, hidden),
        "blk.0.ffn_down.weight": (hidden, ffn),
    }  # fmt: skip
    for name, shape in shapes.items():
        writer.add_tensor(name, rng.normal(0, 0.5, shape).astype(np.float32))
    for name in ("blk.0.attn_norm.weight", "blk.0.ffn_norm.weight", "output_norm.weight"):
        writer.add_tensor(name, np.ones(hidden, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_gguf_file_is_dequantized_once_into_a_model_the_suite_quantizes(
    decoder, tmp_path: Path, qb_cache: Path
) -> None:
    from pytest_quantbench.artifacts.gguf import source_of
    from pytest_quantbench.bench import Bench
    from pytest_quantbench.suite import load_suite

    write_tiny_gguf(tmp_path / "tiny.gguf")
    path = tmp_path / "gguf.suite.yaml"
    path.write_text(
        f"task: text-generation\nmodel_name_or_path: tiny.gguf\ndataset: {decoder[1]}\n"
        "thresholds: {perplexity: {max_ratio: 2.0}, top1_agreement: {min: 0.0}}\n"
    )
    said: list[str] = []
    bench = Bench(qb_cache, progress=said.append)
    case = load_suite(path).cases[0]
    evaluation = bench.evaluate(case)
    assert 1.0 < evaluation.original["perplexity"] < float("inf")  # random weights: no better than chance
    assert evaluation.report.quantized_nodes.get("MatMul", 0) >= 1
    folder = bench.models.model_dir(case.suite)
    assert source_of(folder) is not None and source_of(folder).quantization == "F32"  # type: ignore[union-attr]
    assert any("fp32 weights dequantized from tiny.gguf (F32)" in line for line in said)
    assert len(list((qb_cache / "gguf").iterdir())) == 1
    assert Bench(qb_cache).models.model_dir(case.suite) == folder  # converted once, read back from the cache
