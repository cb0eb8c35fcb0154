"""Tiny models and generated datasets for smoke runs and tests (`builtin:tiny-*`, `builtin:synthetic-*`).

Everything here is generated from word lists and drawing rules written for this project, seeded, and
trained locally in seconds: no third-party data or weights. They are small on purpose: they prove the
harness end to end (export, quantize, evaluate, gate, time); real speed-ups need real models.
"""

from __future__ import annotations

import random
from pathlib import Path

from pytest_quantbench.zoo.ner_corpus import CONLL_LABELS as NER_LABELS
from pytest_quantbench.zoo.ner_corpus import fill
from pytest_quantbench.zoo.training import (
    SEED,
    BuildContext,
    read_images,
    read_jsonl,
    seeded,
    train,
    write_images,
    write_jsonl,
)

POSITIVE = "good great superb lovely charming brilliant delightful wonderful moving clever funny fresh".split()
NEGATIVE = "bad awful dull boring clumsy tedious weak messy bland painful silly stale".split()
NOUNS = "movie film plot story cast script ending soundtrack acting pacing dialogue camera".split()
ADVERBS = "really quite very rather truly so".split()
FILLER = "the a this that was is and but with its it i found felt overall".split()
# The verdict comes last: the sentence holds both polarities, so only word order tells the label.
CONTRAST_TEMPLATES = (
    "{other} at first but {adj} in the end",
    "the {noun} starts {other} yet ends {adv} {adj}",
    "not {other} , the {noun} is {adj}",
)
SENTIMENT_TEMPLATES = (
    "the {noun} was {adv} {adj}",
    "{adv} {adj} {noun}",
    "i found the {noun} {adj}",
    "overall the {noun} felt {adj} and the {noun2} was {adv} {adj}",
    "this {noun} is {adj}",
    "a {adj} {noun} with {adj} {noun2}",
)

FIRST = "anna ben carla david elena felix greta hugo ines jonas karin luca maria nils olga pavel".split()
LAST = "berg costa dahl ek fischer garcia horvat ito jensen kowalski lind moreau novak ortiz petrov quist".split()
ORG_HEAD = "north river blue summit bright iron green silver".split()
ORG_TAIL = "bank systems motors foods labs group airways press".split()
PLACES = "paris oslo lima cairo delhi quito riga sofia tunis vienna kyoto perth".split()
EVENTS = "olympics worldcup expo biennale marathon".split()
NER_TEMPLATES = (
    "{PER} works for {ORG} in {LOC} .",
    "{PER} met {PER} at the {MISC} in {LOC} .",
    "{ORG} opened an office in {LOC} last year .",
    "in {LOC} , {PER} joined {ORG} .",
    "{PER} said {ORG} will sponsor the {MISC} .",
    "the {MISC} moved from {LOC} to {LOC} .",
)

SHAPES = ("horizontal", "vertical", "diagonal")


def _sentiment_split(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for i in range(n):
        label = i % 2
        words, others = (POSITIVE, NEGATIVE) if label else (NEGATIVE, POSITIVE)
        template = rng.choice(SENTIMENT_TEMPLATES if i % 4 == 0 else CONTRAST_TEMPLATES)
        text = template.format(
            noun=rng.choice(NOUNS),
            noun2=rng.choice(NOUNS),
            adv=rng.choice(ADVERBS),
            adj=rng.choice(words),
            other=rng.choice(others),
        )
        rows.append({"sentence": text, "label": label})
    rng.shuffle(rows)
    return rows


def _entity(rng: random.Random, kind: str) -> list[str]:
    if kind == "PER":
        return [rng.choice(FIRST), rng.choice(LAST)] if rng.random() < 0.7 else [rng.choice(LAST)]
    if kind == "ORG":
        return [rng.choice(ORG_HEAD), rng.choice(ORG_TAIL)]
    if kind == "LOC":
        return [rng.choice(PLACES)]
    return [rng.choice(EVENTS)]


def _ner_split(rng: random.Random, n: int, templates: tuple[str, ...]) -> list[dict]:
    return [fill(rng.choice(templates), lambda kind: _entity(rng, kind)) for _ in range(n)]


def build_synthetic_sentiment(out: Path, ctx: BuildContext) -> None:
    rng = random.Random(SEED)
    write_jsonl(out / "train.jsonl", _sentiment_split(rng, 1200))
    write_jsonl(out / "validation.jsonl", _sentiment_split(rng, 400))


def build_synthetic_ner(out: Path, ctx: BuildContext) -> None:
    """Held-out sentences come from templates never seen in training."""
    rng = random.Random(SEED)
    write_jsonl(out / "train.jsonl", _ner_split(rng, 800, NER_TEMPLATES[:4]))
    write_jsonl(out / "validation.jsonl", _ner_split(rng, 200, NER_TEMPLATES[4:]))


def _shape_image(rng: random.Random, shape: str, size: int = 32):
    import numpy as np
    from PIL import Image

    period, phase = rng.randint(4, 8), rng.randint(0, 7)
    yy, xx = np.mgrid[0:size, 0:size]
    coord = {"horizontal": yy, "vertical": xx, "diagonal": xx + yy}[shape]
    stripes = ((coord + phase) // (period // 2)) % 2
    color = np.array([rng.randint(80, 255) for _ in range(3)], dtype=np.float32)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 25, (size, size, 3))
    pixels = np.clip(stripes[..., None] * color + noise + 20, 0, 255).astype("uint8")
    return Image.fromarray(pixels)


def build_synthetic_shapes(out: Path, ctx: BuildContext) -> None:
    """`<split>.parquet` files of striped images, class by class."""
    rng = random.Random(SEED)
    for split, per_class in (("train", 200), ("validation", 50)):
        labels = [label for label in range(len(SHAPES)) for _ in range(per_class)]
        write_images(out / f"{split}.parquet", [_shape_image(rng, SHAPES[i]) for i in labels], labels, list(SHAPES))


def _word_tokenizer(words: list[str], out: Path):
    from transformers import BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ","]
    vocab = specials + sorted(set(words) - set(specials))
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(out / "vocab.txt"), model_max_length=512)
    tokenizer.save_pretrained(out)
    return tokenizer


def _tiny_bert_config(vocab_size: int, **extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=128, max_position_embeddings=512, **extra,
    )  # fmt: skip


def build_tiny_bert_sentiment(out: Path, data_dir: Path, ctx: BuildContext) -> None:
    import torch
    from transformers import BertForSequenceClassification

    rows = read_jsonl(data_dir / "train.jsonl")
    tokenizer = _word_tokenizer(
        POSITIVE + NEGATIVE + NOUNS + ADVERBS + FILLER + "at first but in the end starts yet ends not".split(),
        out,
    )
    config = _tiny_bert_config(
        tokenizer.vocab_size, num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )  # fmt: skip
    model = seeded(lambda: BertForSequenceClassification(config))

    def batches(rng: random.Random) -> list[dict]:
        rng.shuffle(rows)
        out_batches = []
        for i in range(0, len(rows), 32):
            chunk = rows[i : i + 32]
            enc = tokenizer([r["sentence"] for r in chunk], padding=True, return_tensors="pt")
            out_batches.append({**enc, "labels": torch.tensor([r["label"] for r in chunk])})
        return out_batches

    train(model, batches, epochs=4, lr=1e-3, decay=False)
    model.save_pretrained(out)


def build_tiny_bert_ner(out: Path, data_dir: Path, ctx: BuildContext) -> None:
    import torch
    from transformers import BertForTokenClassification

    rows = read_jsonl(data_dir / "train.jsonl")
    words = FIRST + LAST + ORG_HEAD + ORG_TAIL + PLACES + EVENTS
    words += [w for t in NER_TEMPLATES for w in t.split() if not w.startswith("{")]
    tokenizer = _word_tokenizer(words, out)
    config = _tiny_bert_config(
        tokenizer.vocab_size, num_labels=len(NER_LABELS), id2label=dict(enumerate(NER_LABELS)),
        label2id={label: i for i, label in enumerate(NER_LABELS)},
    )  # fmt: skip
    model = seeded(lambda: BertForTokenClassification(config))

    def batches(rng: random.Random) -> list[dict]:
        rng.shuffle(rows)
        out_batches = []
        for i in range(0, len(rows), 32):
            chunk = rows[i : i + 32]
            enc = tokenizer([r["tokens"] for r in chunk], is_split_into_words=True, padding=True, return_tensors="pt")
            labels = torch.full(enc["input_ids"].shape, -100)
            for b, row in enumerate(chunk):
                for t, word in enumerate(enc.word_ids(b)):
                    if word is not None:
                        labels[b, t] = row["ner_tags"][word]
            out_batches.append({**enc, "labels": labels})
        return out_batches

    train(model, batches, epochs=6, lr=1e-3, decay=False)
    model.save_pretrained(out)


def build_tiny_vit_shapes(out: Path, data_dir: Path, ctx: BuildContext) -> None:
    import numpy as np
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    processor = ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    processor.save_pretrained(out)
    images, labels = read_images(data_dir / "train.parquet")
    samples = [(np.asarray(image.convert("RGB")), label) for image, label in zip(images, labels, strict=True)]
    config = ViTConfig(
        image_size=32, patch_size=8, num_channels=3, hidden_size=64, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=128, num_labels=len(SHAPES),
        id2label=dict(enumerate(SHAPES)), label2id={s: i for i, s in enumerate(SHAPES)},
    )  # fmt: skip
    model = seeded(lambda: ViTForImageClassification(config))

    def batches(rng: random.Random) -> list[dict]:
        rng.shuffle(samples)
        out_batches = []
        for i in range(0, len(samples), 32):
            chunk = samples[i : i + 32]
            pixels = processor([img for img, _ in chunk], return_tensors="pt")["pixel_values"]
            out_batches.append({"pixel_values": pixels, "labels": torch.tensor([label for _, label in chunk])})
        return out_batches

    train(model, batches, epochs=8, lr=1e-3, decay=False)
    model.save_pretrained(out)
