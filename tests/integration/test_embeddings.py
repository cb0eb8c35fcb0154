"""Sentence embeddings end to end on tiny encoders in the sentence-transformers layout (written by the test):
an encoder whose int8 vectors keep their neighbours passes, one with a planted activation outlier loses them
and fails naming the cause, and each mistake in the layout or the data is one line before anything is built."""

from __future__ import annotations

import json

import tiny_models as tm

SUITE = """
    name: {name}
    task: {task}
    model_name_or_path: ./{model}
    dataset: {{path: "builtin:synthetic-sentiment", eval_split: validation, num_eval_samples: 120{extra}}}
    fixed:
      operators_to_quantize: [MatMul]
      framework_args: {{opset: 13, optimization_level: 1}}
    time: {{batch_sizes: [2], input_lengths: [16], rounds: 2, warmup_rounds: 0}}
    thresholds: {{cosine: {{min: 0.98}}, neighbours@5: {{min: 0.6}}}}
"""


def _suite(name: str, model: str, task: str = "feature-extraction", extra: str = "") -> str:
    return SUITE.format(name=name, model=model, task=task, extra=extra)


def test_int8_that_keeps_the_neighbours_passes_and_one_that_loses_them_fails(suite_file, run, pytester) -> None:
    tm.embedding_model(pytester.path / "kept")
    tm.embedding_model(pytester.path / "outlier", outlier=300.0)
    suite_file("kept.suite.yaml", _suite("kept", "kept", task="sentence-similarity"))
    suite_file("lost.suite.yaml", _suite("lost", "outlier"))
    result = run("--benchmark-json=out.json", "-k", "accuracy or kept")
    result.assert_outcomes(passed=3, failed=1)  # kept: accuracy and two latency cases (fp32, int8)
    line = next(ln for ln in result.stdout.lines if ln.startswith("lost.suite.yaml::accuracy["))
    assert "neighbours@5 1.000 -> 0." in line and "< min 0.6 (95% CI [" in line
    assert "cause: " in line and "fix: " in line  # the diagnosis names the nodes that move the vectors most
    rows = {r["suite"]: r for r in json.loads((pytester.path / "out.json").read_text())["quantbench"]["accuracy"]}
    kept = rows["kept"]["metrics"]
    assert set(kept) == {"cosine", "neighbours@5"} and kept["cosine"]["quantized"] >= 0.98
    assert kept["neighbours@5"]["quantized"] >= 0.6 and kept["neighbours@5"]["paired"]["n"] == 120
    assert rows["lost"]["metrics"]["neighbours@5"]["quantized"] < 0.6 and not rows["lost"]["passed"]


def test_each_mistake_is_one_line_naming_file_and_field(suite_file, run, pytester) -> None:
    tm.embedding_model(pytester.path / "median", pooling={"pooling_mode_median_tokens": True})
    missing = [dict(m) for m in tm.ST_MODULES]
    missing[1]["path"] = "1_Pool"
    tm.embedding_model(pytester.path / "missing", modules=missing)
    tm.embedding_model(pytester.path / "plain")
    suite_file("median.suite.yaml", _suite("median", "median"))
    suite_file("missing.suite.yaml", _suite("missing", "missing"))
    suite_file("column.suite.yaml", _suite("column", "plain", extra=", data_keys: {primary: text}"))
    result = run("--benchmark-disable", "-k", "accuracy")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines_random(
        [
            "median.suite.yaml::accuracy[[]*[]]: *median.suite.yaml: model_name_or_path: */median/1_Pooling/"
            "config.json: pooling_mode_median_tokens: no such pooling mode (keys: *",
            "missing.suite.yaml::accuracy[[]*[]]: *missing.suite.yaml: model_name_or_path: */missing/modules.json:"
            " [[]1[]].path: '1_Pool' has no config.json in *",
            "column.suite.yaml::accuracy[[]*[]]: *column.suite.yaml: dataset.data_keys.primary: no column 'text'*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_the_fallback_search_judges_the_neighbours(suite_file, run, pytester) -> None:
    """The fp32-set search judges each trial on the fidelity gates too, against the original's vectors on the
    same rows (without them a label-free trial had nothing to fail and the first one "passed")."""
    tm.embedding_model(pytester.path / "outlier", outlier=300.0)
    suite_file("lost.suite.yaml", _suite("lost", "outlier"))
    result = run("--benchmark-disable", "-k", "accuracy", "--quantbench-fallback")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["fallback search:", "  1 nodes in fp32: neighbours@5 1.000 -> 0.* < min 0.6 (95% CI *"]
    )


def test_the_fallback_finds_the_nodes_that_move_the_vectors_and_keeping_them_passes(suite_file, run, pytester) -> None:
    """The planted outlier crushes the channels of the MatMul that reads it; its own output error is small beside
    the outlier, so the ranking puts it low and no prefix of the ranking passes. Measured alone, each node's
    quantization shows what moves the vectors: the search finds a set, and a suite keeping it in fp32 passes."""
    tm.embedding_model(pytester.path / "outlier", outlier=300.0)
    suite_file("lost.suite.yaml", _suite("lost", "outlier"))
    result = run("--benchmark-json=out.json", "-k", "accuracy", "--quantbench-fallback")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["fallback search:", "*by each node alone: *neighbours@5 1.000 -> 0.* (drop *"])
    (row,) = json.loads((pytester.path / "out.json").read_text())["quantbench"]["accuracy"]
    found = row["diagnosis"]["fallback"]
    assert found["passed"] and "/encoder/layer.0/intermediate/dense/MatMul" in found["nodes"]
    kept = _suite("kept", "outlier").replace("operators_to_quantize: [MatMul]", f"node_exclusion: {found['nodes']}")
    suite_file("kept.suite.yaml", kept.replace("fixed:", "fixed:\n      operators_to_quantize: [MatMul]"))
    run("--benchmark-disable", "-k", "accuracy and kept").assert_outcomes(passed=1)


LABELLED = """
    name: {name}
    task: sentence-similarity
    model_name_or_path: ./kept
    dataset: {{path: csv, data_files: {{validation: {file}, train: {file}}}, data_keys: {keys}, ref_keys: [{ref}]}}
    metrics: {metrics}
    fixed:
      operators_to_quantize: [MatMul]
      framework_args: {{opset: 13, optimization_level: 1}}
    time: {{batch_sizes: [2], input_lengths: [16], rounds: 2, warmup_rounds: 0}}
    thresholds: {{{gates}, cosine: {{min: 0.98}}}}
"""


def _sentences(rng, count: int) -> list[str]:
    return [" ".join(rng.choice(tm.WORDS, size=rng.integers(3, 8))) for _ in range(count)]


def _sts_csv(path, rng) -> int:
    """Pairs whose gold score is how many words they share (out of 5): a model that reads words ranks them."""
    rows = ["sentence1,sentence2,score"]
    for first in _sentences(rng, 40):
        words = first.split()
        kept = rng.integers(0, len(words) + 1)
        second = " ".join(words[:kept] + list(rng.choice(tm.WORDS, size=len(words) - kept)))
        rows.append(f"{first},{second},{5.0 * kept / len(words):.2f}")
    path.write_text("\n".join(rows) + "\n")
    return len(rows) - 1


def _retrieval_csv(path, rng) -> None:
    """30 documents, then 20 queries: each a document with one word changed, relevant to that document."""
    docs = _sentences(rng, 30)
    rows = ["id,text,relevant", *(f"d{i},{text}," for i, text in enumerate(docs))]
    for i in range(20):
        words = docs[i].split()
        words[0] = str(rng.choice(tm.WORDS))
        rows.append(f"q{i},{' '.join(words)},d{i}")
    path.write_text("\n".join(rows) + "\n")


def test_sts_and_retrieval_are_scored_on_local_files_with_paired_intervals(suite_file, run, pytester) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    tm.embedding_model(pytester.path / "kept")
    pairs = _sts_csv(pytester.path / "sts.csv", rng)
    _retrieval_csv(pytester.path / "retrieval.csv", rng)
    sts_keys, ir_keys = "{primary: sentence1, secondary: sentence2}", "{primary: text, id: id}"
    suite_file("sts.suite.yaml", LABELLED.format(
        name="sts", file="sts.csv", keys=sts_keys, ref="score", metrics="[spearman]",
        gates="spearman: {max_drop: 0.2, confidence: 0.95}",
    ))  # fmt: skip
    suite_file("ir.suite.yaml", LABELLED.format(
        name="ir", file="retrieval.csv", keys=ir_keys, ref="relevant", metrics="[recall@10, ndcg@10]",
        gates="recall@10: {max_drop: 0.3}, ndcg@10: {max_drop: 0.3, confidence: 0.9}",
    ))  # fmt: skip
    result = run("--benchmark-json=out.json", "-k", "accuracy", "--quantbench-card=card.md")
    result.assert_outcomes(passed=2)
    written = json.loads((pytester.path / "out.json").read_text())["quantbench"]
    rows = {r["suite"]: r for r in written["accuracy"]}
    pooling = "sentence vectors by mean pooling, normalised (modules.json, 1_Pooling)"
    assert {s["name"]: s["reading"] for s in written["suites"]} == {"sts": pooling, "ir": pooling}
    assert (pytester.path / "card.md").read_text().count(f"**Model read as:** {pooling}") == 2
    sts = rows["sts"]["metrics"]
    assert set(sts) == {"spearman", "cosine"} and sts["spearman"]["original"] > 0.3  # the words decide the ranks
    assert sts["spearman"]["paired"]["n"] == pairs and sts["cosine"]["paired"]["n"] == 2 * pairs  # pairs; texts
    ir = rows["ir"]["metrics"]
    assert set(ir) == {"recall@10", "ndcg@10", "cosine"} and ir["recall@10"]["original"] >= 0.5
    low, high = ir["ndcg@10"]["paired"]["ci_low"], ir["ndcg@10"]["paired"]["ci_high"]
    assert low <= ir["ndcg@10"]["paired"]["drop"] <= high


def test_a_labelled_mistake_is_one_line_naming_file_and_field(suite_file, run, pytester) -> None:
    tm.embedding_model(pytester.path / "kept")
    (pytester.path / "bad.csv").write_text("sentence1,sentence2,score\nthe movie,a film,4.0\nthe plot,a plot,high\n")
    keys = "{primary: sentence1, secondary: sentence2}"
    suite_file("gold.suite.yaml", LABELLED.format(
        name="gold", file="bad.csv", keys=keys, ref="score", metrics="[spearman]", gates="spearman: {max_drop: 0.1}"
    ))  # fmt: skip
    suite_file("pairs.suite.yaml", LABELLED.format(
        name="pairs", file="bad.csv", keys="{primary: sentence1}", ref="score", metrics="[spearman]",
        gates="spearman: {max_drop: 0.1}",
    ))  # fmt: skip
    gold = run("--benchmark-disable", "-k", "accuracy", "gold.suite.yaml")
    gold.assert_outcomes(failed=1)  # found when the data is first read
    gold.stdout.fnmatch_lines([
        "gold.suite.yaml::accuracy[[]*[]]: *gold.suite.yaml: dataset.ref_keys[[]0[]]: split 'validation', column "
        "'score': row 1 is 'high': expected gold similarity scores (numbers) for sentence pairs, or relevant document"
        " ids (text, empty on the corpus's rows) for retrieval",
    ])  # fmt: skip
    result = run("--benchmark-disable", "pairs.suite.yaml")
    result.assert_outcomes(errors=1)  # found when the suite is collected
    result.stdout.fnmatch_lines(
        [
            "*pairs.suite.yaml: metrics: spearman needs dataset.data_keys.secondary: the second text of each sentence pair"
        ]
    )
    assert "Traceback" not in gold.stdout.str() + result.stdout.str()


def test_static_u8s8_with_fp32_outputs_embeds_and_names_its_preset(suite_file, run, pytester) -> None:
    """Static QDQ with uint8 activations and fp32 MatMul outputs (the `static_u8s8` preset) calibrates on the
    texts and keeps the vectors of the encoder without outliers; the run's JSON names the preset."""
    tm.embedding_model(pytester.path / "kept")
    static = _suite("static", "kept").replace("operators_to_quantize: [MatMul]", "preset: static_u8s8")
    suite_file("static.suite.yaml", static)
    result = run("--benchmark-json=out.json", "-k", "accuracy")
    result.assert_outcomes(passed=1)
    written = json.loads((pytester.path / "out.json").read_text())["quantbench"]
    (row,) = written["accuracy"]
    assert row["config_id"] == "static_u8s8" and written["suites"][0]["fixed"]["preset"] == "static_u8s8"
    assert row["metrics"]["cosine"]["quantized"] >= 0.98 and row["quantization"]["quantized_nodes"]["MatMul"] > 0
