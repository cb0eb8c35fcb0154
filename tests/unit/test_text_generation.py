"""The language-model task on hand-made logits: sliding windows, NLL and perplexity, the KL divergence and top-1
agreement of two models' next-token distributions, and the gates a suite may give them."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_quantbench.errors import SuiteError
from pytest_quantbench.records import Direction
from pytest_quantbench.suite import DatasetSpec, load_suite
from pytest_quantbench.tasks import Evidence
from pytest_quantbench.tasks.text_generation import TextGeneration, windows
from pytest_quantbench.verdicts import gates

TASK = TextGeneration()
VOCAB = 7


class WordIds:
    """A stand-in tokenizer: one id per word (its length mod the vocabulary), pad id 0."""

    pad_token_id = 0

    def __call__(self, text: Any, **_: Any) -> dict[str, Any]:
        ids = [[len(word) % VOCAB for word in t.split()] for t in ([text] if isinstance(text, str) else text)]
        return {"input_ids": ids[0] if isinstance(text, str) else ids}

    def __len__(self) -> int:
        return VOCAB


@pytest.mark.parametrize(("tokens", "length", "stride"), [(1, 4, 2), (4, 4, 2), (5, 4, 2), (23, 8, 4), (23, 8, 3)])
def test_windows_score_every_token_but_the_first_once_with_context(tokens: int, length: int, stride: int) -> None:
    found = windows(tokens, length, stride)
    scored = [t for w in found for t in range(w.first, w.end)]
    assert scored == list(range(1, tokens))
    assert all(w.end - w.begin <= length and w.begin < w.first <= w.end for w in found)
    assert all(w.first - w.begin >= length - stride for w in found[1:])  # later windows keep their context


def test_a_long_document_is_windows_of_one_batch_aligned_to_its_own_tokens() -> None:
    spec = DatasetSpec(path="json", data_keys=(("primary", "text"),), max_length=4)
    texts = ["a bb ccc dddd eeeee ffffff", "x yy"]
    encoded = TASK.encode_eval(WordIds(), spec, {"text": texts})
    ids = encoded.inputs["input_ids"]
    assert ids.shape == (2 + 1, 4) and len(encoded.alignments) == 2  # 6 tokens: windows at 0 and 2
    assert encoded.references == [VOCAB, VOCAB]
    for text, spans in zip(texts, encoded.alignments, strict=True):
        tokens = WordIds()(text)["input_ids"]
        assert [t for _, _, targets in spans for t in targets] == tokens[1:]
        for row, start, targets in spans:  # each target is the input one position after the logits read
            assert list(ids[row, start + 1 : start + 1 + len(targets)]) == targets
    assert encoded.inputs["attention_mask"][2].tolist() == [1, 1, 0, 0]


def test_uniform_logits_score_the_vocabulary_size_and_nll_resamples_by_counts() -> None:
    spans = [[(0, 0, [1, 2, 3])], [(1, 0, [4])]]
    predictions = TASK.predict(np.zeros((2, 4, VOCAB)), spans, [VOCAB, VOCAB], {})
    assert predictions == [[pytest.approx(3 * math.log(VOCAB)), 3], [pytest.approx(math.log(VOCAB)), 1]]
    scores = TASK.score(("perplexity", "nll"), predictions, [VOCAB] * 2, lambda name: None)  # type: ignore[arg-type,return-value]
    assert scores == {"perplexity": pytest.approx(VOCAB), "nll": pytest.approx(math.log(VOCAB))}
    assert TASK.chance([VOCAB, VOCAB]) == {"perplexity": VOCAB, "nll": pytest.approx(math.log(VOCAB))}
    sums, counts = TASK.sample_counts("nll", predictions, [])  # type: ignore[misc]
    assert sums.sum() / counts.sum() == pytest.approx(scores["nll"])
    assert TASK.sample_counts("perplexity", predictions, []) is None  # exp of a ratio: rescored
    assert {info.name: info.direction for info in TASK.metric_infos} == {
        "perplexity": Direction.LOWER,
        "nll": Direction.LOWER,
    }


def _pair(original: np.ndarray, quantized: np.ndarray) -> dict[str, Any]:
    spans = [[(row, 0, [1] * original.shape[1])] for row in range(len(original))]
    return dict(TASK.pair_evidence(original, quantized, spans, [VOCAB] * len(original)))


def test_kl_divergence_and_top1_agreement_of_two_distributions() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (2, 5, VOCAB))
    none = Evidence([])
    same = _pair(logits, logits)
    kl = TASK.fidelity("kl_divergence", none, none, same)
    agree = TASK.fidelity("top1_agreement", none, none, same)
    assert kl is not None and agree is not None
    assert (kl.quantized, kl.direction, agree.quantized, agree.direction) == (
        pytest.approx(0.0, abs=1e-12), Direction.LOWER, 1.0, Direction.HIGHER,
    )  # fmt: skip
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    assert kl.chance == pytest.approx(float(np.mean((p * np.log(p * VOCAB)).sum(-1))))  # KL from uniform

    flipped = _pair(logits, -logits)  # every top token becomes the bottom one
    assert TASK.fidelity("top1_agreement", none, none, flipped).quantized == 0.0  # type: ignore[union-attr]
    q = np.exp(-logits) / np.exp(-logits).sum(-1, keepdims=True)
    expected = float(np.mean((p * (np.log(p) - np.log(q))).sum(-1)))
    assert TASK.fidelity("kl_divergence", none, none, flipped).quantized == pytest.approx(expected)  # type: ignore[union-attr]
    assert set(flipped) == set(TASK.pair_measures) and len(flipped["kl"]) == 10  # one value per token, no vocabulary
    p99 = TASK.fidelity("kl_divergence_p99", none, none, flipped)
    assert p99 is not None and p99.direction is Direction.LOWER and p99.chance == 0.0 and not gates.collapsed(p99)
    assert p99.quantized == pytest.approx(float(np.quantile((p * (np.log(p) - np.log(q))).sum(-1), 0.99)))

    # a quantized model that knows nothing (uniform) diverges by the chance level: a COLLAPSE of the gate
    uniform = TASK.fidelity("kl_divergence", none, none, _pair(logits, np.zeros_like(logits)))
    assert uniform is not None and uniform.quantized == pytest.approx(uniform.chance) and gates.collapsed(uniform)
    assert not gates.collapsed(kl)


SUITE = """
task: {task}
model_name_or_path: some/model
dataset: {{path: some/texts, eval_split: validation}}
thresholds: {thresholds}
"""


def _load(tmp_path: Path, task: str, thresholds: str) -> Any:
    path = tmp_path / "lm.suite.yaml"
    path.write_text(textwrap.dedent(SUITE.format(task=task, thresholds=thresholds)))
    return load_suite(path)


def test_a_decoder_suite_gates_perplexity_kl_and_agreement(tmp_path: Path) -> None:
    gates_ = "{perplexity: {min_ratio: 0.95, max: 40}, kl_divergence: {max: 0.05}, top1_agreement: {min: 0.9}}"
    suite = _load(tmp_path, "text-generation", gates_)
    assert suite.metrics == ("perplexity",) and suite.dataset.primary == "text"
    thresholds = suite.cases[0].thresholds
    assert dict(thresholds.metrics)["perplexity"].min_ratio == 0.95
    assert {name: (t.min, t.max) for name, t in thresholds.fidelity} == {
        "kl_divergence": (None, 0.05),
        "top1_agreement": (0.9, None),
    }


@pytest.mark.parametrize(
    ("task", "thresholds", "field", "message"),
    [
        ("text-generation", "{kl_divergence: {min: 0.1}}", "thresholds.kl_divergence.min",
         "does not apply to kl_divergence: give max"),
        ("text-generation", "{agreement: {min: 0.9}}", "thresholds.agreement", "unknown field"),
        ("text-classification", "{kl_divergence: {max: 0.1}}", "thresholds.kl_divergence", "unknown field"),
    ],
)  # fmt: skip
def test_gates_a_task_does_not_measure_are_refused_in_one_line(
    tmp_path: Path, task: str, thresholds: str, field: str, message: str
) -> None:
    with pytest.raises(SuiteError) as info:
        _load(tmp_path, task, thresholds)
    assert f"{field}:" in str(info.value) and message in str(info.value) and "\n" not in str(info.value)


def test_gpt2_style_n_positions_is_the_position_limit() -> None:
    from pytest_quantbench.data.validate import position_limit

    assert position_limit({"model_type": "gpt2", "n_positions": 1024}) == 1024
    assert position_limit({"model_type": "llama", "max_position_embeddings": 2048, "n_positions": 7}) == 2048
