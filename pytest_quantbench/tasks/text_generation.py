"""Text generation (causal language models): scored without labels, token by token on the suite's texts.

Each document is tokenized whole and scored on its own tokens: every token after the first is predicted from
those before it, and the document keeps the sum of those tokens' negative log-likelihoods and their count
(its prediction). `perplexity` is exp(sum of NLL / sum of tokens) over the documents, `nll` the mean NLL per
token (nats); both lower-is-better, their paired interval a bootstrap over documents (`nll` resamples the
sums vectorized, `perplexity` rescores them).

A document longer than the context (`max_length`) is scored with a sliding window (`windows`): windows of
`max_length` tokens start every `stride` tokens (`dataset.stride`; default max_length // 2), and each scores only the tokens the
previous one did not, so every token is scored once with at least `max_length - stride` tokens of context
(except near the start). A document's windows are rows of its batch; its alignment says which rows, which
positions and which target tokens are its own.

Both models' next-token distributions meet batch by batch (`pair_evidence`): per scored token the KL
divergence of the quantized model's distribution from the fp32 one's, whether both pick the same top token,
and what a model that knows nothing (uniform) would diverge by; nothing vocabulary-wide is kept. Greedy
continuations of prompts of the split (`generation_agreement@N`, `generation_prefix@N`) are `generation.py`'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_quantbench.records import Direction, MetricInfo, MetricResult, TensorSpec
from pytest_quantbench.suite import DEFAULT_MAX_LENGTH, DatasetSpec
from pytest_quantbench.suite.vocabulary import BUILTIN_TASKS
from pytest_quantbench.tasks import generation
from pytest_quantbench.tasks.base import Encoded, Mapper, MetricFn, Task
from pytest_quantbench.tasks.classification import majority_share
from pytest_quantbench.tasks.evidence import Evidence

KL, KL_UNIFORM, SAME_TOP1, ORIGINAL_TOP1 = "kl", "kl_uniform", "same_top1", "original_top1"


def _p99(values: Any) -> Any:
    import numpy as np

    return np.quantile(values, 0.99)


# the KL gates: how each summarizes the per-token divergences (a numpy array)
KL_SUMMARIES: dict[str, Callable[[Any], Any]] = {
    "kl_divergence": lambda values: values.mean(),
    "kl_divergence_p99": _p99,
}


@dataclass(frozen=True)
class Window:
    """Tokens `begin`..`end` of a document, of which `first`..`end` are scored (the earlier ones are context
    another window scored)."""

    begin: int
    end: int
    first: int


def windows(tokens: int, length: int, stride: int) -> list[Window]:
    """Windows of `length` tokens every `stride` tokens until the document's end; each scores the tokens the
    one before did not (the first token is never scored: nothing predicts it)."""
    out: list[Window] = []
    begin, scored_to = 0, 1
    while True:
        end = min(begin + length, tokens)
        out.append(Window(begin, end, max(scored_to, begin + 1)))
        scored_to = end
        if end >= tokens:
            return out
        begin += stride


def log_probs(logits: Any) -> Any:
    """log-softmax over the last axis, in float64 (a sum over 50k tokens loses digits in float32)."""
    import numpy as np

    x = np.asarray(logits, dtype=np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


# A document's alignment: per window, its row in the batch, the logits position predicting its first scored
# token, and the scored tokens' ids.
Span = tuple[int, int, list[int]]


class TextGeneration(Task):
    name = "text-generation"
    references_from_encoding = True
    vocabulary = BUILTIN_TASKS[name]
    model_class = "AutoModelForCausalLM"
    # with its key/value cache: one model scores (an empty cache, one pass per window) and decodes token by token
    export_task = "text-generation-with-past"
    decodes = True
    divergence_name = "mean KL divergence of the next-token distributions"
    head_suffix = ("ForCausalLM", "LMHeadModel")
    processor_files = ("tokenizer.json", "vocab.json", "*.model")
    metric_infos = (
        MetricInfo("perplexity", Direction.LOWER, "", (1.0, None)),
        MetricInfo("nll", Direction.LOWER, "nats per token", (0.0, None)),
    )
    pair_measures = (KL, KL_UNIFORM, SAME_TOP1, ORIGINAL_TOP1)

    def load_processor(self, model_dir: Path) -> Any:
        """The tokenizer; one without a pad token pads with its end-of-text token (padded positions are
        masked and never scored)."""
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if tokenizer.pad_token is None and tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    def feed(self, inputs: dict[str, Any], declared: Sequence[TensorSpec]) -> dict[str, Any]:
        """The prepared inputs the session takes, with an empty key/value cache (`decoding.with_empty_cache`)."""
        from pytest_quantbench.tasks import decoding

        return decoding.with_empty_cache(inputs, declared)

    def calibration_rows(self, rows: dict[str, list], declared: Sequence[TensorSpec]) -> dict[str, list]:
        """Static calibration runs each prompt with a masked one-position cache (`decoding.with_masked_cache`)."""
        from pytest_quantbench.tasks import decoding

        return decoding.with_masked_cache(rows, declared)

    def check_model(self, model_dir: Path) -> str | None:
        """A tokenizer with neither a pad nor an end-of-text token cannot pad a batch (calibration, timing)."""
        tokenizer = self.load_processor(model_dir)
        if tokenizer.pad_token is None:
            return (
                f"the tokenizer ({model_dir / 'tokenizer_config.json'}) has neither pad_token nor eos_token: set "
                "pad_token there (batches are padded; padded positions are never scored)"
            )
        return None

    def describe_model(self, model_dir: Path) -> str | None:
        """A folder dequantized from a GGUF file says so: its fp32 baseline carries the file's rounding."""
        from pytest_quantbench.artifacts.gguf import source_of

        found = source_of(model_dir)
        return found.line() if found else None

    def check_input(self, value: Any) -> str | None:
        if value is None:
            return "is null"
        if not isinstance(value, str):
            return f"is {type(value).__name__} {value!r}, not text"
        return "is an empty document (no text to score)" if not value.strip() else None

    def _inputs(self, processor: Any, rows: list[list[int]]) -> dict[str, Any]:
        """Right-padded input ids, attention mask and positions of token rows."""
        import numpy as np

        width = max((len(r) for r in rows), default=1)
        pad = processor.pad_token_id if processor.pad_token_id is not None else 0
        ids = np.full((len(rows), width), pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)], mask[i, : len(row)] = row, 1
        positions = np.broadcast_to(np.arange(width, dtype=np.int64), ids.shape).copy()
        return {"input_ids": ids, "attention_mask": mask, "position_ids": positions}

    def encode(
        self, processor: Any, spec: DatasetSpec, rows: dict[str, list], padding: bool | str = True,
        max_length: int | None = None,
    ) -> Encoded:  # fmt: skip
        """One row per text, cut to `max_length` (calibration and timing inputs)."""
        import numpy as np

        enc = processor(
            rows[spec.primary], padding=padding, truncation=True, max_length=max_length or spec.max_length,
            return_tensors="np",
        )  # fmt: skip
        inputs = {k: np.asarray(v, dtype=np.int64) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        shape = inputs["input_ids"].shape
        inputs["position_ids"] = np.broadcast_to(np.arange(shape[1], dtype=np.int64), shape).copy()
        return Encoded(inputs)

    def encode_eval(self, processor: Any, spec: DatasetSpec, rows: dict[str, list]) -> Encoded:
        """Each document whole, in sliding windows of `max_length` tokens; its reference is the vocabulary
        size a model that knows nothing guesses among."""
        length = spec.max_length or DEFAULT_MAX_LENGTH  # the store fits it to the model before encoding
        stride = min(spec.stride or max(1, length // 2), length - 1)  # a window must move on: at most length - 1
        token_rows: list[list[int]] = []
        alignments: list[list[Span]] = []
        for text in rows[spec.primary]:
            ids = list(processor(text, truncation=False)["input_ids"])
            spans: list[Span] = []
            for w in windows(len(ids), length, stride):
                spans.append((len(token_rows), w.first - w.begin - 1, ids[w.first : w.end]))
                token_rows.append(ids[w.begin : w.end])
            alignments.append(spans)
        return Encoded(self._inputs(processor, token_rows), alignments, [len(processor)] * len(alignments))

    def continuation_lengths(self, gates: Iterable[str]) -> tuple[int, ...]:
        return generation.lengths_asked(gates)

    def continuations(
        self, run: Callable[[dict[str, Any]], Any], batches: Iterable[Encoded], tokens: int, context: int,
        flow: Any = None, each: Mapper = map,
    ) -> Any:  # fmt: skip
        """Greedy continuations of the split's prompts (`generation.prompts`), prompts of one length together;
        the lengths are independent, so `each` may run them side by side (an evaluation session runs on one
        core: one length after another, SmolLM2's slowest int4 continuations took 21 s of a cold run)."""
        import numpy as np

        prompts = generation.prompts(batches, tokens, context)
        out = np.zeros((len(prompts), tokens), dtype=np.int64)
        groups = [[i for i, p in enumerate(prompts) if len(p) == w] for w in sorted({len(p) for p in prompts})]

        def continue_group(rows: list[int]) -> Any:
            return generation.greedy(run, [prompts[i] for i in rows], tokens, flow)

        for rows, written in zip(groups, each(continue_group, groups), strict=True):
            out[rows] = written
        return out

    def lengths(self, processor: Any, spec: DatasetSpec, rows: dict[str, list]) -> list[int]:
        return [len(ids) for ids in processor(rows[spec.primary], truncation=False)["input_ids"]]

    def predict(self, logits: Any, alignments: list[Any], references: list[Any], id2label: dict[int, str]) -> list:
        """Per document: [sum of its scored tokens' negative log-likelihoods, their count]."""
        import numpy as np

        out = []
        for spans in alignments:
            total, count = 0.0, 0
            for row, start, targets in spans:
                if targets:
                    logp = log_probs(logits[row, start : start + len(targets)])
                    total -= float(logp[np.arange(len(targets)), targets].sum())
                    count += len(targets)
            out.append([total, count])
        return out

    def score(
        self, metrics: tuple[str, ...], predictions: list[Any], references: list[Any], metric: Callable[[str], MetricFn]
    ) -> dict[str, float]:
        total, count = sum(p[0] for p in predictions), sum(p[1] for p in predictions)
        nll = total / count if count else float("nan")
        own = {"nll": nll, "perplexity": math.exp(nll) if count else float("nan")}
        return {m: own[m] if m in own else metric(m)(predictions, references) for m in metrics}

    def sample_counts(self, metric: str, predictions: list[Any], references: list[Any]) -> tuple[Any, Any] | None:
        """`nll`: per document its NLL sum of its token count (perplexity, its exponential, is rescored)."""
        import numpy as np

        if metric != "nll":
            return None
        sums = np.array([p[0] for p in predictions], dtype=float)
        return sums, np.array([p[1] for p in predictions], dtype=float)

    def chance(self, references: list[Any]) -> dict[str, float]:
        """A model that knows nothing guesses uniformly among the vocabulary: perplexity its size."""
        vocab = max((int(r) for r in references), default=0)
        return {"perplexity": float(vocab), "nll": math.log(vocab)} if vocab > 1 else {}

    def pair_evidence(
        self, original: Any, quantized: Any, alignments: list[Any], references: list[Any]
    ) -> Mapping[str, Any]:
        """Per scored token: KL(fp32 || quantized), KL(fp32 || uniform), same top token, fp32's top token."""
        import numpy as np

        parts: dict[str, list[Any]] = {name: [] for name in self.pair_measures}
        for spans in alignments:
            for row, start, targets in spans:
                if not targets:
                    continue
                p = log_probs(original[row, start : start + len(targets)])
                q = log_probs(quantized[row, start : start + len(targets)])
                probs = np.exp(p)
                parts[KL].append((probs * (p - q)).sum(-1))
                parts[KL_UNIFORM].append((probs * (p + math.log(p.shape[-1]))).sum(-1))
                top = p.argmax(-1)
                parts[SAME_TOP1].append(top == q.argmax(-1))
                parts[ORIGINAL_TOP1].append(top)
        empty = {KL: np.float64, KL_UNIFORM: np.float64, SAME_TOP1: np.bool_, ORIGINAL_TOP1: np.int64}
        return {k: np.concatenate(v) if v else np.zeros(0, dtype=empty[k]) for k, v in parts.items()}

    def divergence(self, original: Any, quantized: Any, feed: Mapping[str, Any]) -> float:
        """Mean KL(fp32 || quantized) over the positions the attention mask keeps (each predicts a next token)."""
        import numpy as np

        given = feed.get("attention_mask")  # past positions first; a model without one attends everywhere
        mask = np.ones(original.shape[:2], dtype=bool) if given is None else np.asarray(given, dtype=bool)
        mask = mask[:, -original.shape[1] :]
        p, q = log_probs(original[mask]), log_probs(quantized[mask])
        return float((np.exp(p) * (p - q)).sum(-1).mean()) if len(p) else 0.0

    def fidelity(
        self, name: str, original: Evidence, quantized: Evidence, paired: Mapping[str, Any]
    ) -> MetricResult | None:
        """`kl_divergence`: the mean over tokens, rising towards a uniform guess's divergence from fp32
        (`kl_divergence_p99`: the 99th percentile, with no chance level); `top1_agreement`: the share
        of tokens with the same top token, falling towards how often fp32's most frequent top token is it."""
        import numpy as np

        if name.split("@")[0] in generation.GATES:
            tokens = generation.new_tokens(name)
            found = [paired.get(f"{side}@{tokens}") for side in (generation.ORIGINAL, generation.QUANTIZED)]
            return None if found[0] is None or found[1] is None else generation.measure(name, *found)
        if name in KL_SUMMARIES:
            kl, uniform = np.asarray(paired[KL]), np.asarray(paired[KL_UNIFORM])
            summary = KL_SUMMARIES[name]
            level, chance = (float(summary(values)) if values.size else 0.0 for values in (kl, uniform))
            # a tail has no chance level (a sound model's rare tokens outdo a uniform guess's): 0 never collapses
            return MetricResult(name, 0.0, level, chance if name == "kl_divergence" else 0.0, None, Direction.LOWER)
        if name == "top1_agreement":
            same = np.asarray(paired[SAME_TOP1])
            shared = float(same.mean()) if same.size else 1.0
            return MetricResult(name, 1.0, shared, majority_share(np.asarray(paired[ORIGINAL_TOP1]).tolist()))
        return None
