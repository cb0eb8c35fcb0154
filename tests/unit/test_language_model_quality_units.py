"""Language-model quality beyond perplexity: the perplexity ratio and its interval (`perplexity: {max_ratio}`),
greedy-continuation agreement (`generation_agreement@N`, `generation_prefix@N`) with their intervals, the
sliding window's `stride`, and a tokenizer that cannot pad."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_quantbench.errors import SuiteError
from pytest_quantbench.records import Direction, MetricResult, PairedStats, Verdict
from pytest_quantbench.suite import DatasetSpec, Threshold, Thresholds, load_suite
from pytest_quantbench.tasks import Encoded, Evidence
from pytest_quantbench.tasks import generation as gen
from pytest_quantbench.tasks.text_generation import TextGeneration
from pytest_quantbench.verdicts import gates, intervals, statistics

TASK = TextGeneration()
NONE = Evidence([])


def _documents(nlls_per_token: list[float], tokens: int = 10) -> list[list[float]]:
    """Predictions as the task keeps them: per document [sum of NLLs, token count]."""
    return [[nll * tokens, tokens] for nll in nlls_per_token]


def _perplexity_stats(original: list[list[float]], quantized: list[list[float]]) -> Any:
    scores = tuple(TASK.score(("perplexity",), p, [], lambda n: None)["perplexity"] for p in (original, quantized))  # type: ignore[arg-type,return-value]
    stats = statistics.paired_stats(
        TASK, "perplexity", original, quantized, [7] * len(original), lambda n: None,  # type: ignore[arg-type,return-value]
        scores=scores, direction=Direction.LOWER,
    )  # fmt: skip
    return scores, stats


def test_the_perplexity_ratio_interval_is_the_bootstrap_of_quantized_over_original_per_resample() -> None:
    rng = np.random.default_rng(3)
    base = rng.uniform(2.0, 4.0, 40).tolist()
    original, quantized = _documents(base), _documents([b + 0.05 for b in base])  # every document 5% worse
    (ppl_o, ppl_q), stats = _perplexity_stats(original, quantized)
    assert ppl_q / ppl_o == pytest.approx(math.exp(0.05))
    # the same NLL rise on every document: every resample has the same ratio, so the interval is one point
    assert stats.ratio_low == pytest.approx(math.exp(0.05)) and stats.ratio_high == pytest.approx(math.exp(0.05))
    noisy = _documents([b + d for b, d in zip(base, rng.normal(0.05, 0.2, 40), strict=True)])
    (ppl_o, ppl_q), stats = _perplexity_stats(original, noisy)
    assert stats.ratio_low < ppl_q / ppl_o < stats.ratio_high  # noise widens it around the point ratio
    # the ratio's ends are the drop's ends over the original's perplexity when the original is fixed (it is not
    # resampled alone: both models' documents are resampled together), so the interval is its own
    assert stats.ratio_high - stats.ratio_low > 0.01


def _ratio_result(quantized: float, low: float, high: float) -> MetricResult:
    stats = PairedStats("perplexity", quantized - 10, 0, 0, 0.95, None, None, None, 64, low, high)
    return MetricResult("perplexity", 10.0, quantized, 7.0, stats, Direction.LOWER)


@pytest.mark.parametrize(
    ("quantized", "low", "high", "verdict", "words"),
    [
        (10.3, 1.01, 1.04, Verdict.PASS, ""),
        (11.0, 1.08, 1.12, Verdict.FAIL, "ratio 1.100 > max_ratio 1.05 at 95% confidence (CI [1.080, 1.120])"),
        (10.4, 1.01, 1.07, Verdict.INCONCLUSIVE,
         "perplexity ratio 1.040, 95% CI [1.010, 1.070] straddles max_ratio 1.05 on 64 samples; about"),
    ],
)  # fmt: skip
def test_max_ratio_with_confidence_is_judged_on_the_ratio_interval(
    quantized: float, low: float, high: float, verdict: Verdict, words: str
) -> None:
    threshold = Threshold(max_ratio=1.05, confidence=0.95)
    r = _ratio_result(quantized, low, high)
    broken, unsure, fell = gates.judge_one(r, threshold, fidelity=False)
    found = Verdict.FAIL if broken else (Verdict.INCONCLUSIVE if unsure else Verdict.PASS)
    assert found is verdict and not fell
    assert words in ("; ".join(broken) or unsure or "")


def test_max_ratio_without_confidence_is_a_point_ceiling_of_quantized_over_original() -> None:
    r = MetricResult("perplexity", 10.0, 10.6, 7.0, None, Direction.LOWER)
    assert gates.violations(r, Threshold(max_ratio=1.05)) == ["ratio 1.060 > max_ratio 1.05 (quantized / original)"]
    assert gates.violations(r, Threshold(max_ratio=1.06)) == []
    judged = gates.judge({"perplexity": 10.0}, {"perplexity": 10.6}, {}, Thresholds.from_keys(
        {"perplexity": Threshold(max_ratio=1.05)}), directions={"perplexity": Direction.LOWER})  # fmt: skip
    assert not judged.passed and "max_ratio 1.05" in judged.line()


def test_greedy_continuation_without_a_cache_runs_one_full_pass_per_token() -> None:
    calls: list[int] = []

    def run(feed: dict[str, Any]) -> Any:  # a model that writes the last token + 1 (mod 5)
        ids = feed["input_ids"]
        calls.append(ids.shape[1])
        assert (feed["attention_mask"] == 1).all() and feed["position_ids"][0].tolist() == list(range(ids.shape[1]))
        logits = np.zeros((*ids.shape, 5))
        logits[np.arange(len(ids)), -1, (ids[:, -1] + 1) % 5] = 1.0
        return [logits]

    out = gen.greedy(run, [[0, 1], [3, 3]], 4)
    assert out.tolist() == [[2, 3, 4, 0], [4, 0, 1, 2]] and calls == [2, 3, 4, 5]


def _batch(documents: list[list[int]]) -> Encoded:
    width = max(map(len, documents))
    ids = np.zeros((len(documents), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, d in enumerate(documents):
        ids[i, : len(d)], mask[i, : len(d)] = d, 1
    return Encoded({"input_ids": ids, "attention_mask": mask}, [[(i, 0, d[1:])] for i, d in enumerate(documents)])


def test_prompts_are_the_first_half_of_each_documents_first_window_with_room_for_the_new_tokens() -> None:
    batches = [_batch([[5, 6, 7, 8], [9]]), _batch([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])]
    assert gen.prompts(batches, tokens=2, context=16) == [[5, 6], [9], [1, 2, 3, 4, 5]]
    assert gen.prompts(batches, tokens=12, context=16) == [[5, 6], [9], [1, 2, 3, 4]]  # 16 - 12 left
    assert gen.prompts(batches, tokens=2, context=16, limit=2) == [[5, 6], [9]]


def test_continuations_of_prompts_of_several_lengths_come_back_in_prompt_order() -> None:
    def run(feed: dict[str, Any]) -> Any:  # writes the prompt's length, whatever came before
        ids = feed["input_ids"]
        logits = np.zeros((*ids.shape, 20))
        logits[:, -1, ids.shape[1]] = 1.0
        return [logits]

    out = TASK.continuations(run, [_batch([[5, 6, 7, 8], [9, 9], [1, 2, 3, 4]])], 2, 16)
    assert out.tolist() == [[2, 3], [1, 2], [2, 3]]


def test_continuations_run_each_prompt_length_through_the_callers_pool_with_the_same_tokens() -> None:
    from pytest_quantbench.measure.accuracy import in_order

    batches = [_batch([[5, 6, 7, 8, 1, 2], [9, 9], [1, 2, 3, 4], [7, 7, 7, 7, 7, 7]])]
    groups_run: list[list[int]] = []

    def pooled(fn: Any, groups: Any) -> Any:
        groups = list(groups)
        groups_run.extend(groups)
        return in_order(fn, groups, workers=2)

    expected = TASK.continuations(CountingModel(), batches, 3, 16)
    assert TASK.continuations(CountingModel(), batches, 3, 16, each=pooled).tolist() == expected.tolist()
    assert groups_run == [[1], [2], [0, 3]]  # prompts [5, 6, 7], [9], [1, 2], [7, 7, 7]: one group a length


class CountingModel:
    """A decoder with a cache: the next token is the sum of every token seen so far (mod 50); its cache holds
    that running sum, so a step after a prefill must be fed the cache to write what a full pass writes."""

    declared = ("input_ids", "attention_mask", "position_ids", "past_key_values.0.key")
    outputs = ("logits", "present.0.key")

    def __init__(self) -> None:
        self.tokens_run = 0

    def __call__(self, feed: dict[str, Any]) -> list[Any]:
        ids = feed["input_ids"]
        self.tokens_run += ids.size
        past = feed.get("past_key_values.0.key")
        seen = (past[:, 0, 0, 0] if past is not None and past.shape[2] else np.zeros(len(ids))) + ids.sum(1)
        assert feed["attention_mask"].shape[1] == (0 if past is None else past.shape[2]) + ids.shape[1]
        logits = np.zeros((*ids.shape, 50))
        logits[np.arange(len(ids)), -1, (seen % 50).astype(int)] = 1.0
        cache = np.zeros((len(ids), 1, (0 if past is None else past.shape[2]) + ids.shape[1], 1))
        cache[:, 0, :, 0] = seen[:, None]
        return [logits, cache]


def test_continuations_through_the_cache_write_what_full_passes_write_for_fewer_tokens() -> None:
    from pytest_quantbench.records import TensorSpec
    from pytest_quantbench.tasks.decoding import CacheFlow

    specs = [TensorSpec(n, (None, 1, None, 1), "float32") for n in CountingModel.declared]
    flow = CacheFlow.of(specs, CountingModel.outputs)
    batches = [_batch([[5, 6, 7, 8], [9, 9], [1, 2, 3, 4]])]
    full, cached = CountingModel(), CountingModel()
    expected = TASK.continuations(full, batches, 4, 16)
    assert TASK.continuations(cached, batches, 4, 16, flow).tolist() == expected.tolist()
    assert cached.tokens_run < full.tokens_run / 2  # the prompt once, then one token a step


def test_generation_agreement_and_prefix_with_their_intervals_and_collapse() -> None:
    original = np.array([[1, 2, 3, 4]] * 32)
    quantized = original.copy()
    quantized[:8, 1] = 9  # 8 prompts of 32 differ from their second token on
    paired = {f"{gen.ORIGINAL}@4": original, f"{gen.QUANTIZED}@4": quantized}
    agreement = TASK.fidelity("generation_agreement@4", NONE, NONE, paired)
    prefix = TASK.fidelity("generation_prefix@4", NONE, NONE, paired)
    assert agreement is not None and prefix is not None
    assert agreement.quantized == pytest.approx(24 / 32) and agreement.direction is Direction.HIGHER
    assert prefix.quantized == pytest.approx((24 * 1.0 + 8 * 0.25) / 32)  # first difference at position 1 of 4
    assert agreement.paired is not None and agreement.paired.n == 32
    low, high = intervals.score_interval(agreement)
    assert low < agreement.quantized <= high <= 1.0
    assert gen.first_differences(original, quantized).tolist() == [1] * 8 + [4] * 24
    # a floor inside the interval is undecided, one above it all fails
    assert gates.judge_one(agreement, Threshold(min=0.7), fidelity=True)[1] is not None
    assert gates.judge_one(agreement, Threshold(min=0.99), fidelity=True)[0]
    # nothing identical: the prefix falls to its chance level 0, a COLLAPSE; whole continuations have none
    differ = {**paired, f"{gen.QUANTIZED}@4": original + 1}
    nothing = TASK.fidelity("generation_prefix@4", NONE, NONE, differ)
    assert nothing is not None and nothing.quantized == 0.0 and gates.collapsed(nothing)
    none_whole = TASK.fidelity("generation_agreement@4", NONE, NONE, differ)
    assert none_whole is not None and none_whole.quantized == 0.0 and not gates.collapsed(none_whole)
    # the gate key without its count reads the default length; continuations not computed: not measured
    assert TASK.fidelity("generation_agreement", NONE, NONE, paired) is None
    assert TASK.continuation_lengths(["kl_divergence", "generation_agreement", "generation_prefix@4"]) == (8, 4)


class WordIds:
    pad_token_id = 0

    def __call__(self, text: Any, **_: Any) -> dict[str, Any]:
        return {"input_ids": [len(w) for w in text.split()]}

    def __len__(self) -> int:
        return 50


def test_stride_sets_where_the_sliding_windows_start() -> None:
    text = " ".join("x" * (i % 9 + 1) for i in range(20))  # 20 tokens
    for stride, starts in ((None, [0, 4, 8, 12]), (2, [0, 2, 4, 6, 8, 10, 12]), (7, [0, 7, 14])):
        spec = DatasetSpec(path="json", data_keys=(("primary", "text"),), max_length=8, stride=stride)
        encoded = TASK.encode_eval(WordIds(), spec, {"text": [text]})
        tokens = WordIds()(text)["input_ids"]
        rows = [row for row, _, _ in encoded.alignments[0]]
        ids, mask = encoded.inputs["input_ids"], encoded.inputs["attention_mask"]
        found = [ids[r, : int(mask[r].sum())].tolist() for r in rows]
        assert found == [tokens[s : s + 8] for s in starts]  # windows of 8 tokens starting every `stride`
        assert [t for _, _, targets in encoded.alignments[0] for t in targets] == tokens[1:]  # each token once


SUITE = """
task: text-generation
model_name_or_path: some/model
dataset: {dataset}
metrics: [perplexity, nll]
thresholds: {thresholds}
"""


def _load(tmp_path: Path, thresholds: str, dataset: str = "{path: some/texts}") -> Any:
    path = tmp_path / "lm.suite.yaml"
    path.write_text(textwrap.dedent(SUITE.format(thresholds=thresholds, dataset=dataset)))
    return load_suite(path)


def test_a_suite_gives_the_ratio_gate_the_generation_gates_and_a_stride(tmp_path: Path) -> None:
    suite = _load(
        tmp_path,
        "{perplexity: {max_ratio: 1.1, confidence: 0.9}, generation_agreement@16: {min: 0.5}, generation_prefix: {min: 0.7}}",
        "{path: some/texts, max_length: 32, stride: 8}",
    )
    thresholds = suite.cases[0].thresholds
    assert dict(thresholds.metrics)["perplexity"] == Threshold(max_ratio=1.1, confidence=0.9)
    assert dict(thresholds.fidelity) == {"generation_agreement@16": Threshold(min=0.5),
                                          "generation_prefix": Threshold(min=0.7)}  # fmt: skip
    assert suite.dataset.stride == 8


@pytest.mark.parametrize(
    ("thresholds", "dataset", "field", "message"),
    [
        ("{nll: {max_ratio: 1.1}}", "{path: some/texts}", "thresholds.nll.max_ratio",
         "does not apply to nll: give confidence, max, max_drop, min, min_ratio"),
        ("{generation_agreement: {max: 0.1}}", "{path: some/texts}", "thresholds.generation_agreement.max",
         "does not apply to generation_agreement: give min"),
        ("{perplexity: {max: 40}}", "{path: some/texts, max_length: 16, stride: 16}", "dataset.stride",
         "16 is not below max_length 16"),
    ],
)  # fmt: skip
def test_bad_ratio_generation_and_stride_settings_are_one_line(
    tmp_path: Path, thresholds: str, dataset: str, field: str, message: str
) -> None:
    with pytest.raises(SuiteError) as info:
        _load(tmp_path, thresholds, dataset)
    text = str(info.value)
    assert f"{field}:" in text and message in text and "\n" not in text


def test_a_tokenizer_with_neither_pad_nor_eos_token_is_refused_naming_its_file(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "the": 1, "movie": 2}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]").save_pretrained(tmp_path)
    problem = TASK.check_model(tmp_path)
    assert problem is not None and "tokenizer_config.json" in problem and "neither pad_token nor eos_token" in problem
    PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", eos_token="movie").save_pretrained(tmp_path)
    assert TASK.check_model(tmp_path) is None  # pads with its end-of-text token


def test_a_decided_failure_is_not_hidden_by_another_gate_left_undecided() -> None:
    stats = PairedStats("perplexity", 5.0, 0, 0, 0.95, None, None, None, 32, 1.28, 1.56)  # straddles 1.3

    class Paired(gates.Pairs):  # the perplexity's interval as given; the KL from the arrays
        def stats(self, *_: Any, **__: Any) -> PairedStats:
            return stats

    kl = {"kl": np.array([0.74]), "kl_uniform": np.array([5.0])}
    pairs = Paired(TASK, NONE, NONE, [], lambda n: None, kl)  # type: ignore[arg-type,return-value]
    thresholds = Thresholds.from_keys(
        {"perplexity": Threshold(max_ratio=1.3, confidence=0.95), "kl_divergence": Threshold(max=0.6)}
    )
    original = MetricResult("perplexity", 10.0, 14.0, 7.0, stats, Direction.LOWER)
    assert gates.judge_one(original, dict(thresholds.metrics)["perplexity"], fidelity=False)[1] is not None
    judged = gates.judge({"perplexity": 10.0}, {"perplexity": 14.0}, {}, thresholds, pairs,
                         directions={"perplexity": Direction.LOWER})  # fmt: skip
    assert (
        judged.verdict is Verdict.FAIL and judged.line() == "kl_divergence 0.000 -> 0.740 (rise 0.740): 0.740 > max 0.6"
    )
