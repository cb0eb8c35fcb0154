"""Every family optimum exports runs end to end, dynamic and static: a verdict (pass or gate failure), never an
error. Tiny random models built here (one layer, hidden 16), data in each format `datasets` reads locally.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import tiny_models as tm

from pytest_quantbench.bench import Bench
from pytest_quantbench.errors import BuildError
from pytest_quantbench.suite import Case, load_suite

# family -> the data format its suite reads (each format at least once)
TEXT = {"distilbert": "csv", "roberta": "parquet", "electra": "json", "deberta-v2": "csv", "xlm-roberta": "saved"}
IMAGE = {
    "vit": "imagefolder",
    "deit": "imagefolder",
    "swin": "imagefolder",
    "convnext": "imagefolder",
    "resnet": "parquet",
}
APPROACHES = ("dynamic", "static")
GRID = """
benchmarked: {quantization_approach: [dynamic, static]}
fixed: {calibration: {num_calibration_samples: 8}}
thresholds: {accuracy: {max_drop: 1.0}}
"""


def _text_data(root: Path, kind: str) -> str:
    """The suite's `dataset:` mapping for text rows stored as `kind`."""
    import datasets

    splits = {
        "train": datasets.Dataset.from_list(tm.sentences(16, 1)),
        "validation": datasets.Dataset.from_list(tm.sentences(16, 2)),
    }
    folder = root / f"text-{kind}"
    if kind == "saved":
        if not folder.exists():
            datasets.DatasetDict(splits).save_to_disk(str(folder))
        return f"{{path: {folder}, max_length: 16}}"
    folder.mkdir(exist_ok=True)
    for name, split in splits.items():
        {"csv": split.to_csv, "json": split.to_json, "parquet": split.to_parquet}[kind](str(folder / f"{name}.{kind}"))
    files = {name: str(folder / f"{name}.{kind}") for name in splits}
    return f"{{path: {kind}, data_files: {json.dumps(files)}, max_length: 16}}"


def _image_data(root: Path, kind: str) -> str:
    import datasets

    folder = root / f"images-{kind}"
    if kind == "imagefolder":
        for name, seed in (("train", 1), ("validation", 2)):
            for i, (image, label) in enumerate(tm.images(9, seed)):
                target = folder / name / tm.SHAPES[label] / f"{i}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                image.save(target)
        return f"{{path: imagefolder, data_dir: {folder}}}"
    folder.mkdir(exist_ok=True)
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=tm.SHAPES)})
    for name, seed in (("train", 1), ("validation", 2)):
        pairs = tm.images(9, seed)
        rows = {"image": [p[0] for p in pairs], "label": [p[1] for p in pairs]}
        datasets.Dataset.from_dict(rows, features=features).to_parquet(str(folder / f"{name}.parquet"))
    files = {name: str(folder / f"{name}.parquet") for name in ("train", "validation")}
    return f"{{path: parquet, data_files: {json.dumps(files)}}}"


class Matrix:
    """Models, suites and one `Bench` for the module: each family is built once, lazily."""

    def __init__(self, root: Path, cache: Path) -> None:
        self.root, self.bench = root, Bench(cache)
        self._suites: dict[str, list[Case]] = {}

    def cases(self, family: str, task: str) -> dict[str, Case]:
        key = f"{family}-{task}"
        if key not in self._suites:
            if task == "image-classification":
                model, dataset = tm.image_model(self.root / key, family), _image_data(self.root, IMAGE[family])
            else:
                head = "token" if task == "token-classification" else "sequence"
                model = tm.text_model(self.root / key, family, head=head)
                dataset = _text_data(self.root, TEXT.get(family, "csv")) if head == "sequence" else _tokens(self.root)
            path = self.root / f"{key}.suite.yaml"
            path.write_text(
                f"task: {task}\nmodel_name_or_path: {model}\ndataset: {dataset}\nmetrics: [accuracy]\n" + GRID
            )
            self._suites[key] = list(load_suite(path).cases)
        return {case.config.quantization_approach: case for case in self._suites[key]}


def _tokens(root: Path) -> str:
    folder = root / "tokens"
    folder.mkdir(exist_ok=True)
    for name, seed in (("train", 1), ("validation", 2)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tm.tagged(12, seed)))
    files = {name: str(folder / f"{name}.jsonl") for name in ("train", "validation")}
    return f"{{path: json, data_files: {json.dumps(files)}, data_keys: {{primary: tokens}}, max_length: 16}}"


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory, qb_cache: Path) -> Matrix:
    return Matrix(tmp_path_factory.mktemp("architectures"), qb_cache)


MATRIX = [(f, "text-classification", a) for f in TEXT for a in APPROACHES]
MATRIX += [(f, "image-classification", a) for f in IMAGE for a in APPROACHES]
MATRIX += [("roberta", "token-classification", a) for a in APPROACHES]  # pre-split words, byte-level BPE


@pytest.mark.parametrize(
    ("family", "task", "approach"), MATRIX, ids=[f"{f}-{t.split('-')[0]}-{a}" for f, t, a in MATRIX]
)
def test_a_family_reaches_a_verdict(matrix: Matrix, family: str, task: str, approach: str) -> None:
    evaluation = matrix.bench.evaluate(matrix.cases(family, task)[approach])
    assert evaluation.verdict is not None
    assert set(evaluation.original) == {"accuracy"} and 0.0 <= evaluation.quantized["accuracy"] <= 1.0


def test_a_family_optimum_cannot_export_is_refused_by_name(matrix: Matrix, tmp_path: Path) -> None:
    model = tm.text_model(tmp_path / "funnel", "funnel")
    path = tmp_path / "funnel.suite.yaml"
    path.write_text(
        textwrap.dedent(f"""
        task: text-classification
        model_name_or_path: {model}
        dataset: {_text_data(tmp_path, "csv")}
        """)
    )
    with pytest.raises(BuildError) as info:
        matrix.bench.evaluate(load_suite(path).cases[0])
    assert (
        str(info.value) == f"{model}/config.json: model_type 'funnel': optimum cannot export this architecture to ONNX"
    )
