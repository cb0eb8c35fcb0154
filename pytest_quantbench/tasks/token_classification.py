"""Token classification (NER): pre-split words, one tag per word, scored by seqeval on whole entities.

A word's tag is predicted at its first sub-token, the convention its models are trained with
(`first_subtokens`, which the zoo's NER fine-tune uses too).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_quantbench.records import InputKind
from pytest_quantbench.suite import DatasetSpec
from pytest_quantbench.suite.vocabulary import BUILTIN_TASKS, SEQEVAL_METRICS
from pytest_quantbench.tasks.base import Encoded, MetricFn
from pytest_quantbench.tasks.text_classification import TextClassification


def first_subtokens(word_ids: list[int | None]) -> list[int]:
    """Position of each word's first sub-token: the one whose prediction stands for the word."""
    starts, previous = [], None
    for pos, word in enumerate(word_ids):
        if word is not None and word != previous:
            starts.append(pos)
        previous = word
    return starts


def byte_level(tokenizer: Any) -> bool:
    """A byte-level BPE tokenizer: its pre-tokenizer (fast) or its class (slow) takes `add_prefix_space`."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return '"ByteLevel"' in json.dumps(json.loads(backend.to_str()).get("pre_tokenizer"))
    return "add_prefix_space" in inspect.signature(type(tokenizer).__init__).parameters


class TokenClassification(TextClassification):
    name = "token-classification"
    vocabulary = BUILTIN_TASKS[name]
    export_task = "token-classification"
    model_class = "AutoModelForTokenClassification"
    split_into_words = True
    head_suffix = "ForTokenClassification"

    def load_processor(self, model_dir: Path) -> Any:
        """Byte-level BPE tokenizers (RoBERTa, GPT-2 and kin) take pre-split words only with a prefix space."""
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if byte_level(tokenizer) and not getattr(tokenizer, "add_prefix_space", False):
            tokenizer = AutoTokenizer.from_pretrained(model_dir, add_prefix_space=True)
        return tokenizer

    def check_input(self, value: Any) -> str | None:
        if not isinstance(value, list) or not all(isinstance(word, str) for word in value):
            return f"is {value!r}, not a list of words (strings)"
        return None

    def check_references(
        self, values: list[Any], label_names: list[str] | None, id2label: dict[int, str]
    ) -> str | None:
        """Tags name the model's labels (`id2label`), or are ids the dataset's names or the model's cover."""
        if not id2label:
            return None
        names = label_names or [id2label[i] for i in sorted(id2label)]
        for row, tags in enumerate(values):
            if not isinstance(tags, list):
                return f"row {row}: {tags!r} is not a list of tags"
            for tag in tags:
                if not isinstance(tag, str) and (isinstance(tag, bool) or not isinstance(tag, int)):
                    return f"row {row}: tag {tag!r} is neither a tag id nor a tag name"
                if isinstance(tag, int) and not 0 <= tag < len(names):
                    return f"row {row}: tag {tag} is outside the {len(names)} tags (0-{len(names) - 1})"
        used = {t if isinstance(t, str) else names[t] for tags in values for t in tags}
        missing = sorted(used - set(id2label.values()))
        if missing:
            return f"tags the model's id2label lacks: {', '.join(missing)} (model tags: {', '.join(id2label.values())})"
        return None

    def encode(
        self, processor: Any, spec: DatasetSpec, rows: dict[str, list], padding: bool | str = True,
        max_length: int | None = None,
    ) -> Encoded:  # fmt: skip
        import numpy as np

        enc = self.tokenize(processor, spec, rows, padding, max_length)
        starts = [first_subtokens(enc.word_ids(i)) for i in range(len(rows[spec.primary]))]
        return Encoded({k: np.asarray(v, dtype=np.int64) for k, v in enc.items()}, starts)

    def references(self, values: list[Any], label_names: list[str] | None, id2label: dict[int, str]) -> list[Any]:
        def name(tag: Any) -> str:
            if isinstance(tag, str):
                return tag
            return label_names[tag] if label_names else id2label[int(tag)]

        return [[name(t) for t in tags] for tags in values]

    def predict(self, logits: Any, alignments: list[Any], references: list[Any], id2label: dict[int, str]) -> list:
        out = []
        for row, starts, reference in zip(logits.argmax(-1), alignments, references, strict=True):
            tags = [id2label[int(row[pos])] for pos in starts]
            words = len(tags) if reference is None else len(reference)  # no references: label-free
            out.append(tags + ["O"] * (words - len(tags)))  # words cut by truncation count as "O"
        return out

    def score(
        self, metrics: tuple[str, ...], predictions: list[Any], references: list[Any], metric: Callable[[str], MetricFn]
    ) -> dict[str, float]:
        from pytest_quantbench.tasks.metrics import load_metric

        builtin = [m for m in metrics if m in SEQEVAL_METRICS]
        scores = {}
        if builtin:
            result = load_metric("seqeval").compute(predictions=predictions, references=references)
            scores = {k: float(result[f"overall_{k}"]) for k in builtin}
        others = {m: metric(m)(predictions, references) for m in metrics if m not in SEQEVAL_METRICS}
        return {m: {**scores, **others}[m] for m in metrics}

    def sample_counts(self, metric: str, predictions: list[Any], references: list[Any]) -> tuple[Any, Any] | None:
        """seqeval's micro scores per sentence: tokens right of tokens, or entity matches of predicted or gold
        entities (F1 = 2 TP / (predicted + gold))."""
        import numpy as np
        from seqeval.metrics.sequence_labeling import get_entities

        if metric == "accuracy":
            pairs = list(zip(predictions, references, strict=True))
            return (
                np.array([sum(p == r for p, r in zip(ps, rs, strict=True)) for ps, rs in pairs], dtype=float),
                np.array([len(rs) for _, rs in pairs], dtype=float),
            )
        if metric not in ("precision", "recall", "f1"):
            return None
        tp, pred, gold = [], [], []
        for ps, rs in zip(predictions, references, strict=True):
            p, g = set(get_entities(list(ps))), set(get_entities(list(rs)))
            tp.append(len(p & g))
            pred.append(len(p))
            gold.append(len(g))
        t, pr, go = (np.array(v, dtype=float) for v in (tp, pred, gold))
        return {"precision": (t, pr), "recall": (t, go), "f1": (2 * t, pr + go)}[metric]

    def logit_rows(self, logits: Any, alignments: list[Any]) -> Any:
        import numpy as np

        rows = [row[starts] for row, starts in zip(logits, alignments, strict=True)]
        return np.concatenate(rows) if rows else np.zeros((0, logits.shape[-1]))

    def flat_labels(self, references: list[Any]) -> list[Any]:
        return [t for tags in references for t in tags]

    def shown_input(self, value: Any) -> tuple[InputKind, str]:
        """The sentence's words."""
        return InputKind.WORDS, super().shown_input(" ".join(map(str, value)))[1]

    def shown_answers(
        self, value: Any, original: Any, quantized: Any, reference: Any, id2label: dict[int, str]
    ) -> tuple[str, str, str | None]:
        """Only the words whose tag changed, each as `word TAG`."""
        changed = [i for i, (a, b) in enumerate(zip(original, quantized, strict=True)) if a != b]

        def tags(seq: list[Any]) -> str:
            return ", ".join(f"{value[i] if i < len(value) else '?'} {seq[i]}" for i in changed)

        return tags(original), tags(quantized), None if reference is None else tags(reference)
