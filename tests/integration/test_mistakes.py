"""Bring your own model and data: every mistake in the model folder, the data or the suite file is one line.

Each row of `MISTAKES` builds a broken variant of a small valid setup (a model folder, a dataset, a suite
file); one pytest run over all of them (a subprocess: one import of torch for 40 suites) gives the report
each row checks: its exact line, and no traceback anywhere.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import tiny_models as tm

RUN_TIMEOUT_S = 600


@dataclass(frozen=True)
class Setup:
    """The valid pieces every mistake starts from."""

    root: Path

    def model(self, kind: str) -> Path:
        return self.root / "models" / kind

    def data(self, kind: str) -> Path:
        return self.root / "data" / kind


def _write_csv(path: Path, rows: list[dict], columns: tuple[str, ...] = ("sentence", "label")) -> None:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _write_images(folder: Path, pairs: list) -> None:
    for i, (image, label) in enumerate(pairs):
        target = folder / tm.SHAPES[label] / f"{i}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    s = Setup(tmp_path_factory.mktemp("byo"))
    tm.text_model(s.model("text"))
    tm.text_model(s.model("token"), head="token")
    tm.text_model(s.model("funnel"), "funnel")
    tm.text_model(s.model("text64"), positions=64)
    tm.image_model(s.model("image"))
    balanced_model(s.model("balanced"))
    _write_csv(s.data("text") / "train.csv", tm.sentences(24, seed=1))
    _write_csv(s.data("text") / "validation.csv", tm.sentences(16, seed=2))
    _write_jsonl(s.data("tokens") / "train.jsonl", tm.tagged(16, seed=1))
    _write_jsonl(s.data("tokens") / "validation.jsonl", tm.tagged(12, seed=2))
    _write_images(s.data("images") / "train", tm.images(12, seed=1))
    _write_images(s.data("images") / "validation", tm.images(9, seed=2))
    return s


def text_suite(model: Path | str, data: Path | str, dataset: str = "", extra: str = "") -> str:
    return (
        textwrap.dedent(f"""
        task: text-classification
        model_name_or_path: {model}
        dataset:
          path: csv
          data_files: {{train: {data}/train.csv, validation: {data}/validation.csv}}
          {dataset}
    """)
        + extra
    )


def token_suite(model: Path | str, data: Path | str, dataset: str = "", extra: str = "") -> str:
    return (
        textwrap.dedent(f"""
        task: token-classification
        model_name_or_path: {model}
        dataset:
          path: json
          data_files: {{train: {data}/train.jsonl, validation: {data}/validation.jsonl}}
          data_keys: {{primary: tokens}}
          {dataset}
    """)
        + extra
    )


def image_suite(model: Path | str, data: Path | str, dataset: str = "", extra: str = "") -> str:
    return (
        textwrap.dedent(f"""
        task: image-classification
        model_name_or_path: {model}
        dataset:
          path: imagefolder
          data_dir: {data}
          {dataset}
    """)
        + extra
    )


POOL = 400  # sentences a balanced model's answers are drawn from
MARGIN = 0.5  # between its two logits: an answer the ONNX export gives alike


def balanced_model(out: Path) -> Path:
    """A tiny text model whose answers split about evenly between its two labels (its head's bias centred on
    generated sentences); `answers.json` holds sentences it answers 0 and 1 with a clear margin."""
    import torch
    import transformers

    tm.text_model(out, init_range=2.0)
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(out).eval()
    texts = [row["sentence"] for row in tm.sentences(POOL, seed=3)]
    with torch.no_grad():
        logits = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits
        model.classifier.bias[1] -= (logits[:, 1] - logits[:, 0]).median()
        gap = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.diff(dim=-1)[:, 0]
    model.save_pretrained(out)
    answers = {
        label: [t for t, g in zip(texts, gap.tolist(), strict=True) if (g > MARGIN) == bool(label) and abs(g) > MARGIN]
        for label in (0, 1)
    }
    (out / "answers.json").write_text(json.dumps(answers))
    return out


def answered(s: Setup, case: Path, per_label: int, right: int) -> Path:
    """Balanced references for the balanced model: `per_label` sentences it answers each label, of which it
    gets `right` right (the others' references are the other label)."""
    answers = json.loads((s.model("balanced") / "answers.json").read_text())
    rows = []
    for label in (0, 1):
        texts = answers[str(label)][:per_label]
        assert len(texts) == per_label, f"the balanced model answers {label} only {len(texts)} times"
        rows += [{"sentence": t, "label": label if i < right else 1 - label} for i, t in enumerate(texts)]
    return text_rows(case, rows)


def copy_model(s: Setup, kind: str, case: Path) -> Path:
    return Path(shutil.copytree(s.model(kind), case / "model"))


def edit_config(model: Path, **changes: object) -> Path:
    config = json.loads((model / "config.json").read_text())
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    (model / "config.json").write_text(json.dumps(config))
    return model


def text_rows(case: Path, rows: list[dict], columns: tuple[str, ...] = ("sentence", "label")) -> Path:
    """A text dataset of `rows` in both splits (one file's odd type would be cast to the other's)."""
    data = case / "data"
    for split in ("train", "validation"):
        _write_csv(data / f"{split}.csv", rows, columns)
    return data


def token_rows(case: Path, rows: list[dict]) -> Path:
    data = case / "data"
    for split in ("train", "validation"):
        _write_jsonl(data / f"{split}.jsonl", rows)
    return data


def saved_dataset(
    case: Path, names: list[str] | None = None, splits: tuple[str, ...] = ("train", "validation")
) -> Path:
    import datasets

    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=names or tm.LABELS)}
    )
    rows = tm.sentences(12)
    saved = datasets.DatasetDict({split: datasets.Dataset.from_list(rows, features=features) for split in splits})
    saved.save_to_disk(str(case / "saved"))
    return case / "saved"


def saved_suite(s: Setup, saved: Path, dataset: str = "", extra: str = "") -> str:
    return (
        textwrap.dedent(f"""
        task: text-classification
        model_name_or_path: {s.model("text")}
        dataset:
          path: {saved}
          {dataset}
    """)
        + extra
    )


@dataclass(frozen=True)
class Mistake:
    id: str
    make: Callable[[Setup, Path], str]  # (setup, the case's folder) -> suite text
    line: str  # the one report line: {path} is the suite file, {case} its folder, {models} the valid models'
    collect: bool = False  # a suite file error: the collection error, not a failing case
    config: str = "dynamic"  # the id of the suite's one config
    passes: bool = False  # not a mistake: the case passes (and `line`, when given, is a note in the output)
    prefix: bool = False  # `line` is how the line starts (it ends in a library's own words)


def _bad_image(s: Setup, case: Path) -> str:
    data = Path(shutil.copytree(s.data("images"), case / "images"))
    first = min((data / "validation").glob("*/*.png"))  # imagefolder's row 0
    first.write_bytes(b"not a png")
    return image_suite(s.model("image"), data)


def _labels_of_two_types(s: Setup, case: Path) -> str:
    """Integer labels in one file, names in the other: `datasets` cannot make one column of them."""
    _write_csv(case / "data" / "train.csv", tm.sentences(8))
    _write_csv(case / "data" / "validation.csv", [{"sentence": "good", "label": "meh"}])
    return text_suite(s.model("text"), case / "data")


def _no_tokenizer(s: Setup, case: Path) -> str:
    model = copy_model(s, "text", case)
    for name in ("vocab.txt", "tokenizer.json"):
        (model / name).unlink()
    return text_suite(model, s.data("text"))


def _no_weights(s: Setup, case: Path) -> str:
    model = copy_model(s, "text", case)
    (model / "model.safetensors").unlink()
    return text_suite(model, s.data("text"))


def _no_config(s: Setup, case: Path) -> str:
    model = copy_model(s, "text", case)
    (model / "config.json").unlink()
    return text_suite(model, s.data("text"))


def _broken_config(s: Setup, case: Path) -> str:
    model = copy_model(s, "text", case)
    (model / "config.json").write_text('{"model_type": "bert",')
    return text_suite(model, s.data("text"))


def _pickled_weights(s: Setup, case: Path, extra: str = "") -> str:
    """Weights in a .bin that torch.load(weights_only=True) refuses (it holds more than tensors)."""
    import fractions

    import torch
    from safetensors.torch import load_file

    model = copy_model(s, "text", case)
    weights = load_file(model / "model.safetensors")
    (model / "model.safetensors").unlink()
    torch.save({**weights, "extra": fractions.Fraction(1, 3)}, model / "pytorch_model.bin")
    return text_suite(model, s.data("text"), extra=extra)


def _model_in_the_current_directory(s: Setup, case: Path) -> str:
    """`cwd-model` for `../cwd-model`: the folder is in the directory pytest runs in, not beside the suite."""
    shutil.copytree(s.model("text"), case.parent / "cwd-model")
    return text_suite("cwd-model", s.data("text"))


def _symlink_loop(s: Setup, case: Path) -> str:
    (case / "loop").symlink_to(case / "loop")
    return text_suite("./loop", s.data("text"))


def _no_image_processor(s: Setup, case: Path) -> str:
    model = copy_model(s, "image", case)
    (model / "preprocessor_config.json").unlink()
    return image_suite(model, s.data("images"))


DUPLICATE = """
    task: text-classification
    model_name_or_path: some/model
    dataset: {path: csv}
    task: token-classification
"""
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]\n" for i in range(1, 6)
)
NO_COLUMN = "no column '{col}' in split 'validation' (did you mean '{hint}'? columns: sentence, label)"
C = "{path}: "
M = "model_name_or_path: "

MISTAKES = [
    # the suite file itself (collection errors)
    Mistake(
        "duplicate-key", lambda s, c: DUPLICATE, C + "task: duplicate key (lines 2 and 5): give each key once", True
    ),
    Mistake(
        "duplicate-nested-key",
        lambda s, c: "fixed:\n  per_channel: true\n  reduce_range: true\n  per_channel: false\n",
        C + "fixed.per_channel: duplicate key (lines 2 and 4): give each key once",
        True,
    ),
    Mistake("alias-bomb", lambda s, c: BOMB, C + "expands to more than 100000 values through its aliases", True),
    Mistake(
        "deep-nesting", lambda s, c: "a: " + "[" * 40 + "]" * 40, C + "nested deeper than 32 levels (line 1)", True
    ),
    Mistake(
        "python-tag",
        lambda s, c: "task: !!python/object/apply:os.system [echo]\n",
        C + "invalid YAML at line 1, column 7: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'",
        True,
    ),
    # columns and splits
    Mistake(
        "missing-input-column",
        lambda s, c: text_suite(s.model("text"), s.data("text"), "data_keys: {primary: sentense}"),
        C + "dataset.data_keys.primary: " + NO_COLUMN.format(col="sentense", hint="sentence"),
    ),
    Mistake(
        "missing-reference-column",
        lambda s, c: text_suite(s.model("text"), s.data("text"), "ref_keys: [labels]"),
        C + "dataset.ref_keys[0]: " + NO_COLUMN.format(col="labels", hint="label"),
    ),
    Mistake(
        "missing-eval-split",
        lambda s, c: text_suite(s.model("text"), s.data("text"), "eval_split: test"),
        C + "dataset.eval_split: no split 'test' in the dataset (splits: ['train', 'validation'])",
    ),
    Mistake(
        "missing-calibration-split",
        lambda s, c: text_suite(
            s.model("text"), s.data("text"), "calibration_split: calib", "fixed: {quantization_approach: static}"
        ),
        C + "dataset.calibration_split: no split 'calib' in the dataset (splits: ['train', 'validation'])",
        config="static",
    ),
    Mistake(
        "missing-split-saved-to-disk",
        lambda s, c: saved_suite(s, saved_dataset(c), "eval_split: test"),
        C + "dataset.eval_split: no split 'test' in the dataset (splits: ['train', 'validation'])",
    ),
    Mistake(
        "empty-split",
        lambda s, c: text_suite(s.model("text"), text_rows(c, [])),
        C + "dataset.eval_split: split 'validation' is empty",
    ),
    # rows
    Mistake(
        "labels-of-two-types",
        _labels_of_two_types,
        C + "dataset: datasets cannot load split 'validation': An error occurred while generating the dataset: "
        "Failed to parse string: 'meh' as a scalar of type int64",
    ),
    Mistake(
        "null-text",
        lambda s, c: text_suite(
            s.model("text"), text_rows(c, [{"sentence": "good", "label": 1}, {"sentence": "", "label": 0}])
        ),
        C + "dataset.data_keys.primary: split 'validation', row 1: 'sentence' is null",
    ),
    Mistake(
        "number-not-text",
        lambda s, c: text_suite(s.model("text"), text_rows(c, [{"sentence": 7, "label": 1}])),
        C + "dataset.data_keys.primary: split 'validation', row 0: 'sentence' is int 7, not text",
    ),
    Mistake(
        "null-second-text",
        lambda s, c: text_suite(
            s.model("text"),
            text_rows(c, [{"sentence": "good", "other": "", "label": 1}], ("sentence", "other", "label")),
            "data_keys: {primary: sentence, secondary: other}",
        ),
        C + "dataset.data_keys.secondary: split 'validation', row 0: 'other' is null",
    ),
    Mistake(
        "tokens-not-a-list",
        lambda s, c: token_suite(s.model("token"), token_rows(c, [{"tokens": "anna works", "ner_tags": [1, 0]}])),
        C + "dataset.data_keys.primary: split 'validation', row 0: 'tokens' is 'anna works', not a list of words "
        "(strings)",
    ),
    Mistake(
        "tokens-not-strings",
        lambda s, c: token_suite(s.model("token"), token_rows(c, [{"tokens": [1, 2], "ner_tags": [1, 0]}])),
        C + "dataset.data_keys.primary: split 'validation', row 0: 'tokens' is [1, 2], not a list of words (strings)",
    ),
    Mistake(
        "image-does-not-decode",
        _bad_image,
        C + "dataset.data_keys.primary: split 'validation', row 0: 'image' does not decode: cannot identify image "
        "file '{case}/images/validation/diagonal/2.png'",
    ),
    Mistake(
        "image-column-is-text",
        lambda s, c: image_suite(s.model("image"), s.data("images"), "data_keys: {primary: label}"),
        C + "dataset.data_keys.primary: split 'validation', row 0: 'label' is int 0, not an image",
    ),
    # labels
    Mistake(
        "unknown-string-labels",
        lambda s, c: text_suite(
            s.model("text"),
            text_rows(c, [{"sentence": "good", "label": "POSITIVE"}, {"sentence": "x", "label": "meh"}]),
        ),
        C + "dataset.ref_keys[0]: split 'validation', column 'label': labels the model's label2id lacks: 'meh' "
        "(model labels: NEGATIVE, POSITIVE)",
    ),
    Mistake(
        "label-beyond-head",
        lambda s, c: text_suite(s.model("text"), text_rows(c, [{"sentence": "good", "label": 5}])),
        C + "dataset.ref_keys[0]: split 'validation', column 'label': row 0: label 5 is outside the model's 2 labels "
        "(0-1)",
    ),
    Mistake(
        "label-beyond-a-head-without-id2label",  # transformers leaves default labels out of config.json
        lambda s, c: text_suite(
            edit_config(copy_model(s, "text", c), id2label=None, label2id=None),
            text_rows(c, [{"sentence": "good", "label": 7}, {"sentence": "bad", "label": 7}]),
        ),
        C + "dataset.ref_keys[0]: split 'validation', column 'label': row 0: label 7 is outside the model's 2 labels "
        "(0-1)",
    ),
    Mistake(
        "references-below-chance",  # every answer of the fp32 model wrong on two balanced labels: swapped labels
        lambda s, c: text_suite(s.model("balanced"), answered(s, c, 20, 0), extra=LENIENT + EXPECT_FAIL),
        C + "dataset.ref_keys[0]: the original model's accuracy 0.000 is below chance (0.500) on 40 samples: the "
        "references probably do not match the model's labels (label order, label names, or the wrong column in "
        "dataset.ref_keys)",
    ),
    Mistake(
        "unlabelled-split",
        lambda s, c: text_suite(s.model("text"), text_rows(c, [{"sentence": "good", "label": -1}])),
        C + "dataset.ref_keys[0]: split 'validation', column 'label': row 0: label -1 is outside the model's 2 labels "
        "(0-1)",
    ),
    Mistake(
        "more-classes-than-head",
        lambda s, c: saved_suite(s, saved_dataset(c, ["bad", "fine", "good"])),
        C + "dataset.ref_keys[0]: split 'validation', column 'label': the dataset has 3 classes (bad, fine, good) but "
        "the model's head has 2 (NEGATIVE, POSITIVE)",
    ),
    Mistake(
        "unknown-tag-names",
        lambda s, c: token_suite(
            s.model("token"), token_rows(c, [{"tokens": ["anna", "works"], "ner_tags": ["B-PER", "B-FOO"]}])
        ),
        C + "dataset.ref_keys[0]: split 'validation', column 'ner_tags': tags the model's id2label lacks: B-FOO "
        "(model tags: " + ", ".join(tm.TAGS) + ")",
    ),
    Mistake(
        "tag-beyond-head",
        lambda s, c: token_suite(s.model("token"), token_rows(c, [{"tokens": ["anna"], "ner_tags": [9]}])),
        C + "dataset.ref_keys[0]: split 'validation', column 'ner_tags': row 0: tag 9 is outside the 7 tags (0-6)",
    ),
    # lengths
    Mistake(
        "max-length-beyond-positions",
        lambda s, c: text_suite(s.model("text"), s.data("text"), "max_length: 1024"),
        C + "dataset.max_length: 1024 is above the model's position limit 512 (config.json max_position_embeddings)",
    ),
    Mistake(
        "input-length-beyond-positions",
        lambda s, c: text_suite(s.model("text"), s.data("text"), "max_length: 32", "time: {input_lengths: [16, 600]}"),
        C + "time.input_lengths[1]: 600 is above the model's position limit 512 (config.json max_position_embeddings)",
    ),
    Mistake(
        "max-length-above-a-small-models-limit",
        lambda s, c: text_suite(s.model("text64"), s.data("text"), "max_length: 128"),
        C + "dataset.max_length: 128 is above the model's position limit 64 (config.json max_position_embeddings)",
    ),
    # paths
    Mistake(
        "model-folder-in-the-current-directory",
        _model_in_the_current_directory,
        C + M + "no folder 'cwd-model' beside the suite file (relative paths start at the suite's folder), but "
        "{case.parent}/cwd-model exists: write it as ../cwd-model",
        True,
    ),
    Mistake(
        "model-path-is-a-symlink-loop",
        _symlink_loop,
        C + M + "a symlink loop: ./loop (relative paths start at the suite's folder)",
        True,
    ),
    Mistake(
        "data-file-is-a-device",
        lambda s, c: text_suite(s.model("text"), s.data("text")).replace(f"{s.data('text')}/train.csv", "/dev/zero"),
        C + "dataset.data_files.train: not a regular file or folder (a character device): /dev/zero",
        True,
    ),
    Mistake(
        "dataset-path-missing",
        lambda s, c: "task: text-classification\nmodel_name_or_path: gpt2\ndataset: {path: ./no-data}\n",
        C + "dataset.path: no such file or directory: ./no-data (relative paths start at the suite's folder)",
        True,
    ),
    # the model folder
    Mistake(
        "bin-weights-torch-refuses",
        _pickled_weights,
        "ONNX export of {case}/model for text-classification (opset None) failed: {case}/model/pytorch_model.bin: "
        "transformers reads a .bin with torch.load(weights_only=True), which refuses it: Unsupported global: GLOBAL "
        "fractions.Fraction was not an allowed global by default (if you trust the file, load it and save_pretrained "
        "it: model.safetensors); optimum then tried TensorFlow weights: ",
        prefix=True,
    ),
    Mistake(
        "bin-weights-torch-refuses-pytorch-backend",
        lambda s, c: _pickled_weights(s, c, "fixed: {framework: pytorch}\n"),
        "loading {case}/model with transformers failed: {case}/model/pytorch_model.bin: transformers reads a .bin "
        "with torch.load(weights_only=True), which refuses it: Unsupported global: GLOBAL fractions.Fraction was not "
        "an allowed global by default (if you trust the file, load it and save_pretrained it: model.safetensors)",
    ),
    Mistake(
        "no-config",
        _no_config,
        C + M + "{case}/model/config.json: no such file (a transformers model folder has a config.json)",
    ),
    Mistake(
        "config-not-json",
        _broken_config,
        C + M + "{case}/model/config.json: cannot be read as JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 23 (char 22)",
    ),
    Mistake("no-weights", _no_weights, C + M + "{case}/model: no weights (*.safetensors or pytorch_model.bin)"),
    Mistake(
        "no-tokenizer",
        _no_tokenizer,
        C + M + "{case}/model: no text-classification processor files (one of tokenizer.json, vocab.txt, "
        "vocab.json, *.model)",
    ),
    Mistake(
        "no-image-processor",
        _no_image_processor,
        C + M + "{case}/model: no image-classification processor files (one of preprocessor_config.json)",
    ),
    Mistake(
        "base-model-without-head",
        lambda s, c: text_suite(edit_config(copy_model(s, "text", c), architectures=["BertModel"]), s.data("text")),
        C + M + "{case}/model/config.json: architectures: BertModel has no head for text-classification "
        "(expected *ForSequenceClassification)",
    ),
    Mistake(
        "image-model-in-text-suite",
        lambda s, c: text_suite(s.model("image"), s.data("text")),
        C + M + "{models}/image/config.json: architectures: ViTForImageClassification has no head for "
        "text-classification (expected *ForSequenceClassification)",
    ),
    Mistake(
        "text-model-in-image-suite",
        lambda s, c: image_suite(s.model("text"), s.data("images")),
        C + M + "{models}/text/config.json: architectures: BertForSequenceClassification has no head for "
        "image-classification (expected *ForImageClassification)",
    ),
    Mistake(
        "custom-code-not-trusted",
        lambda s, c: text_suite(
            edit_config(copy_model(s, "text", c), auto_map={"AutoModel": "modeling.MyModel"}), s.data("text")
        ),
        C + M + "{case}/model/config.json: auto_map: the model needs its own Python code; it is not run unless the "
        "suite sets trust_remote_code: true",
    ),
    Mistake(
        "architecture-optimum-cannot-export",
        lambda s, c: text_suite(s.model("funnel"), s.data("text")),
        "{models}/funnel/config.json: model_type 'funnel': optimum cannot export this architecture to ONNX",
    ),
]
# What the checks must let through: each format, string labels, over-long texts, more samples than there are.
EXPECT_FAIL = (  # a strict xfail of a gate failure: not of a mistake
    "benchmarked: {quantization_approach: [dynamic]}\noverrides: [{when: {quantization_approach: dynamic}, expect: fail}]\n"
)
LENIENT = "metrics: [accuracy]\nthresholds: {accuracy: {max_drop: 1.0}}\n"  # random weights: any verdict is a pass
FINE = [
    Mistake("csv", lambda s, c: text_suite(s.model("text"), s.data("text"), extra=LENIENT), "", passes=True),
    Mistake(  # 0.55 on two balanced labels: weak, not wrong
        "weak-but-honest",
        lambda s, c: text_suite(s.model("balanced"), answered(s, c, 20, 11), extra=LENIENT),
        "",
        passes=True,
    ),
    Mistake(
        "string-labels-mapped-through-label2id",
        lambda s, c: text_suite(
            s.model("text"),
            text_rows(c, [{"sentence": "good", "label": "POSITIVE"}, {"sentence": "bad", "label": "negative"}]),
            extra=LENIENT,
        ),
        "",
        passes=True,
    ),
    Mistake(
        "long-text-truncated",
        lambda s, c: text_suite(
            s.model("text"), text_rows(c, [{"sentence": "good " * 3000, "label": 1}]), "max_length: 32", LENIENT
        ),
        "",
        passes=True,
    ),
    Mistake(
        "num-eval-samples-beyond-the-split",
        lambda s, c: text_suite(s.model("text"), s.data("text"), "num_eval_samples: 1000", LENIENT),
        C + "num_eval_samples 1000 > 16 rows of split 'validation': using 16",
        passes=True,
    ),
    Mistake(
        "num-calibration-samples-beyond-the-split",
        lambda s, c: text_suite(
            s.model("text"),
            s.data("text"),
            extra=LENIENT + "fixed: {quantization_approach: static, calibration: {num_calibration_samples: 500}}\n",
        ),
        C + "num_calibration_samples 500 > 24 rows of split 'train': using 24",
        config="static",
        passes=True,
    ),
    Mistake(
        "small-model-without-max-length",
        lambda s, c: text_suite(s.model("text64"), s.data("text"), extra=LENIENT),
        C + "dataset.max_length not given: truncating at 64, the model's position limit (the default 128 is above it)",
        passes=True,
    ),
    Mistake(
        "bare-name-of-a-folder-beside-the-suite",
        lambda s, c: text_suite(copy_model(s, "text", c).name, s.data("text"), extra=LENIENT),
        "",
        passes=True,
    ),
    Mistake(
        "json-tokens", lambda s, c: token_suite(s.model("token"), s.data("tokens"), extra=LENIENT), "", passes=True
    ),
    Mistake(
        "long-words-truncated",
        lambda s, c: token_suite(
            s.model("token"),
            token_rows(c, [{"tokens": ["anna"] * 300, "ner_tags": [1] * 300}]),
            "max_length: 16",
            LENIENT,
        ),
        "",
        passes=True,
    ),
    Mistake(
        "imagefolder", lambda s, c: image_suite(s.model("image"), s.data("images"), extra=LENIENT), "", passes=True
    ),
    Mistake("save-to-disk", lambda s, c: saved_suite(s, saved_dataset(c), extra=LENIENT), "", passes=True),
]
IDS = [m.id for m in MISTAKES]
assert len(set(IDS)) == len(IDS) >= 30


@pytest.fixture(scope="module")
def report(setup: Setup, qb_cache: Path) -> str:
    """One pytest run over every mistake's suite (accuracy cases only: a mistake fails them all alike)."""
    runs = setup.root / "runs"
    for mistake in MISTAKES + FINE:
        case = runs / mistake.id
        case.mkdir(parents=True)
        (case / f"{mistake.id}.suite.yaml").write_text(textwrap.dedent(mistake.make(setup, case)))
    (runs / "pytest.ini").write_text("[pytest]\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--quantbench-cache={qb_cache}",
         "--benchmark-disable", "-m", "accuracy", "-rfEp", "--continue-on-collection-errors", str(runs)],
        cwd=runs, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    (runs / "report").write_text(result.stdout + result.stderr)
    return result.stdout + result.stderr


@pytest.mark.parametrize("mistake", MISTAKES, ids=IDS)
def test_a_mistake_is_one_line(mistake: Mistake, report: str, setup: Setup) -> None:
    case = setup.root / "runs" / mistake.id
    line = mistake.line.format(path=case / f"{mistake.id}.suite.yaml", case=case, models=setup.root / "models")
    nodeid = f"{mistake.id}/{mistake.id}.suite.yaml"
    prefix = "" if mistake.collect else f"{nodeid}::accuracy[{mistake.config}]: "
    lines = report.splitlines()
    found = any(ln.startswith(prefix + line) for ln in lines) if mistake.prefix else prefix + line in lines
    assert found, f"no line {prefix + line!r} in {setup.root}/runs/report"
    summary = f"ERROR {nodeid}" if mistake.collect else f"FAILED {nodeid}::accuracy[{mistake.config}]"
    assert any(ln.startswith(summary) for ln in lines)
    assert "Traceback" not in report


@pytest.mark.parametrize("fine", FINE, ids=[f.id for f in FINE])
def test_what_fits_runs(fine: Mistake, report: str, setup: Setup) -> None:
    case = setup.root / "runs" / fine.id
    assert f"PASSED {fine.id}/{fine.id}.suite.yaml::accuracy[{fine.config}]" in report.splitlines()
    if fine.line:
        assert fine.line.format(path=case / f"{fine.id}.suite.yaml") in report.splitlines()
