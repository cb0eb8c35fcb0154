"""What every recipe shares: the build context, seeding, a fine-tuning loop that reports progress, data files."""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.progress import Progress, say

SEED = 1234


@dataclass
class BuildContext:
    """What a recipe may use besides its output folder: the cache (for fetched inputs) and a progress sink."""

    cache: ArtifactCache
    progress: Progress = field(default=say)


@contextlib.contextmanager
def every_core() -> Iterator[None]:
    """Train on every core: torch's thread count is process-wide, and a timing case may have set it to 1."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seeded(make_model: Callable[[], Any]) -> Any:
    """Build a model from a fixed seed, whatever the process drew from torch's generator before."""
    import torch

    torch.manual_seed(SEED)
    return make_model()


class Ticker:
    """Periodic progress lines with an ETA: a build of minutes must not look like a hang."""

    def __init__(self, progress: Progress, what: str, total: int, every_s: float = 15.0) -> None:
        self.progress, self.what, self.total, self.every_s = progress, what, total, every_s
        self.start = self.last = time.monotonic()

    def tick(self, done: int, note: str = "") -> None:
        now = time.monotonic()
        if now - self.last < self.every_s and done < self.total:
            return
        self.last = now
        elapsed = now - self.start
        eta = elapsed / done * (self.total - done) if done else 0.0
        note = f", {note}" if note else ""
        self.progress(
            f"quantbench: {self.what}: {done}/{self.total} ({100 * done // self.total}%){note}, "
            f"{elapsed:.0f}s elapsed, eta {eta:.0f}s"
        )


def train(
    model,
    batches: Callable[[random.Random], list[dict]],
    epochs: int,
    lr: float,
    progress: Progress | None = None,
    what: str = "fine-tuning",
    decay: bool = True,
) -> None:
    """AdamW over seeded, shuffled batches (learning rate decayed linearly to 0 unless `decay` is off)."""
    import torch

    rng = random.Random(SEED)
    plan = [batches(rng) for _ in range(epochs)]
    steps = sum(len(b) for b in plan)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps if decay else 1.0)
    ticker = Ticker(progress, what, steps) if progress else None
    model.train()
    done = 0
    for epoch in plan:
        for batch in epoch:
            loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            done += 1
            if ticker:
                ticker.tick(done, f"loss {loss.item():.3f}")
    model.eval()


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_images(path: Path, images: list, labels: list[int], names: list[str]) -> None:
    """An image split as one parquet file (PNG bytes, `datasets`' Image and ClassLabel features): `datasets`
    loads it at once, where an imagefolder tree is globbed file by file on every load (5 s for MNIST)."""
    import datasets

    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=names)})
    datasets.Dataset.from_dict({"image": images, "label": labels}, features=features).to_parquet(str(path))


def read_images(path: Path) -> tuple[list, list[int]]:
    """(PIL images, label ids) of a split that `write_images` wrote, in its order."""
    import datasets

    split = datasets.Dataset.from_parquet(str(path))
    return list(split["image"]), list(split["label"])
