"""`builtin:<name>` models and datasets: what a suite can use with no hub, built locally into the cache.

Real ones (MiniLM-L6 on movie reviews and on generated NER sentences, a DINOv2 ViT on MNIST, SmolLM2-135M
from its GGUF file) start from
weights and data that pinned packages ship (see `fetch.PINS`); tiny ones are generated in seconds for
smoke runs and tests. Each entry is keyed by its recipe version, its pinned inputs and the versions of the
libraries that shape it, so a change to any of them rebuilds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pytest_quantbench.artifacts.cache import ArtifactCache, digest, library_versions
from pytest_quantbench.extras import needs
from pytest_quantbench.progress import Progress, say
from pytest_quantbench.zoo import dinov2, minilm, mnist, movie_reviews, ner_corpus, resnet, smollm, tiny
from pytest_quantbench.zoo.training import BuildContext, every_core


@dataclass(frozen=True)
class DatasetRecipe:
    build: Callable[[Path, BuildContext], None]
    loader: str  # the `datasets` builder that reads what `build` writes
    version: int  # bumped when the recipe changes what it writes
    libraries: tuple[str, ...] = ()  # whose version changes the generated data


@dataclass(frozen=True)
class ModelRecipe:
    build: Callable[[Path, Path, BuildContext], None]
    dataset: str
    version: int
    libraries: tuple[str, ...] = ()  # whose version changes the built model besides torch and transformers


DATASETS: dict[str, DatasetRecipe] = {
    "movie-reviews": DatasetRecipe(movie_reviews.build_movie_reviews, "json", 1),
    "generated-ner": DatasetRecipe(ner_corpus.build_generated_ner, "json", 7, ("faker",)),
    "mnist": DatasetRecipe(mnist.build_mnist, "parquet", 2, ("pillow",)),
    "synthetic-sentiment": DatasetRecipe(tiny.build_synthetic_sentiment, "json", 2),
    "synthetic-ner": DatasetRecipe(tiny.build_synthetic_ner, "json", 2),
    "synthetic-shapes": DatasetRecipe(tiny.build_synthetic_shapes, "parquet", 3, ("pillow", "numpy")),
}
MODELS: dict[str, ModelRecipe] = {
    "minilm-sentiment": ModelRecipe(minilm.build_minilm_sentiment, "movie-reviews", 2),
    "minilm-ner": ModelRecipe(minilm.build_minilm_ner, "generated-ner", 8),
    "all-minilm-l6-v2": ModelRecipe(minilm.build_all_minilm_l6_v2, "movie-reviews", 1),
    "dinov2-vit-s14-mnist": ModelRecipe(dinov2.build_dinov2_vit_mnist, "mnist", 1),
    "resnet-mnist": ModelRecipe(resnet.build_resnet_mnist, "mnist", 1),
    "smollm2-135m": ModelRecipe(smollm.build_smollm2_135m, "movie-reviews", 1, ("gguf",)),
    "tiny-bert-sentiment": ModelRecipe(tiny.build_tiny_bert_sentiment, "synthetic-sentiment", 2),
    "tiny-bert-ner": ModelRecipe(tiny.build_tiny_bert_ner, "synthetic-ner", 2),
    "tiny-vit-shapes": ModelRecipe(tiny.build_tiny_vit_shapes, "synthetic-shapes", 2),
}
NAMES = (*DATASETS, *MODELS)


def dataset_args(name: str, cache: ArtifactCache, progress: Progress = say) -> dict:
    """`datasets.load_dataset` arguments for a built-in dataset (built into the cache on first use)."""
    root = dataset_dir(name, cache, progress)
    loader = DATASETS[name].loader
    suffix = {"json": "jsonl", "parquet": "parquet"}[loader]
    return {"path": loader, "data_files": {s: str(root / f"{s}.{suffix}") for s in ("train", "validation")}}


def dataset_dir(name: str, cache: ArtifactCache, progress: Progress = say) -> Path:
    if name not in DATASETS:
        raise KeyError(f"unknown builtin dataset '{name}' (known: {', '.join(DATASETS)})")
    recipe = DATASETS[name]
    with needs("zoo", f"builtin:{name}"):  # Faker's version keys the generated NER sentences
        key = digest("dataset", name, recipe.version, library_versions(recipe.libraries))
    ctx = BuildContext(cache, progress)
    return cache.build("builtin", key, lambda out: recipe.build(out, ctx), {"name": name})


def model_dir(name: str, cache: ArtifactCache, progress: Progress = say) -> Path:
    if name not in MODELS:
        raise KeyError(f"unknown builtin model '{name}' (known: {', '.join(MODELS)})")
    recipe = MODELS[name]
    data_path = dataset_dir(recipe.dataset, cache, progress)
    key = digest(
        "model", name, recipe.version, data_path.name, library_versions(("torch", "transformers", *recipe.libraries))
    )
    ctx = BuildContext(cache, progress)

    def build(out: Path) -> None:
        progress(f"quantbench: building builtin:{name} (once; cached under {cache.root})")
        with every_core():
            recipe.build(out, data_path, ctx)

    return cache.build("builtin", key, build, {"name": name})
