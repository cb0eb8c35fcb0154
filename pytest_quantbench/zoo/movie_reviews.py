"""Real movie-review sentences with human polarity ratings (`builtin:movie-reviews`), from the vaderSentiment sdist.

The sdist ships Hutto & Gilbert's ICWSM 2014 ground truth: 10,605 review snippets with the mean of
several human ratings on a -4..4 scale. A sentence is positive when its mean rating is above +0.5, negative below -0.5;
the near-neutral ones are dropped, as a binary sentiment set would. Fetched at build time, never committed.
"""

from __future__ import annotations

import random
import tarfile
from pathlib import Path

from pytest_quantbench.artifacts.fetch import fetched
from pytest_quantbench.zoo.training import SEED, BuildContext, write_jsonl

INNER_ARCHIVE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
MEMBER = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
NEUTRAL_BAND = 0.5
EVAL_SIZE = 1000


def parse(text: str) -> list[dict]:
    """`id<TAB>mean rating<TAB>sentence` lines → labelled rows, near-neutral and duplicate sentences dropped."""
    rows, seen = [], set()
    for line in text.splitlines():
        parts = line.strip().split("\t")
        if len(parts) != 3:
            continue
        rating, sentence = float(parts[1]), parts[2].strip()
        if abs(rating) < NEUTRAL_BAND or sentence in seen:
            continue
        seen.add(sentence)
        rows.append({"sentence": sentence, "label": int(rating > 0)})
    return rows


def split(rows: list[dict], eval_size: int = EVAL_SIZE) -> tuple[list[dict], list[dict]]:
    """Seeded shuffle, then disjoint (train, validation)."""
    rows = list(rows)
    random.Random(SEED).shuffle(rows)
    return rows[eval_size:], rows[:eval_size]


def build_movie_reviews(out: Path, ctx: BuildContext) -> None:
    root = fetched("vaderSentiment", ctx.cache, ctx.progress)
    with tarfile.open(root / INNER_ARCHIVE) as outer:
        member = outer.extractfile(MEMBER)
        if member is None:
            raise FileNotFoundError(f"{MEMBER} is missing from {INNER_ARCHIVE}")
        text = member.read().decode("utf-8")
    train, validation = split(parse(text))
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "validation.jsonl", validation)
