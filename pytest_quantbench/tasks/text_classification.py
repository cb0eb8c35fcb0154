"""Text classification: sentences (or sentence pairs) tokenized by the model's tokenizer, one label each."""

from __future__ import annotations

from typing import Any

from pytest_quantbench.suite import DatasetSpec
from pytest_quantbench.suite.vocabulary import BUILTIN_TASKS
from pytest_quantbench.tasks.base import Encoded
from pytest_quantbench.tasks.classification import ClassifierTask


class TextClassification(ClassifierTask):
    name = "text-classification"
    vocabulary = BUILTIN_TASKS[name]
    export_task = "text-classification"
    model_class = "AutoModelForSequenceClassification"
    sort_by_length = True
    head_suffix = "ForSequenceClassification"
    processor_files = ("tokenizer.json", "vocab.txt", "vocab.json", "*.model")
    split_into_words = False  # token classification reads pre-split words

    def _texts(self, spec: DatasetSpec, rows: dict[str, list]) -> list[list]:
        return [rows[spec.primary]] + ([rows[spec.secondary]] if spec.secondary else [])

    def check_input(self, value: Any) -> str | None:
        if value is None:
            return "is null"
        return None if isinstance(value, str) else f"is {type(value).__name__} {value!r}, not text"

    def tokenize(
        self, processor: Any, spec: DatasetSpec, rows: dict[str, list], padding: bool | str, max_length: int | None
    ) -> Any:
        return processor(
            *self._texts(spec, rows), padding=padding, truncation=True, max_length=max_length or spec.max_length,
            is_split_into_words=self.split_into_words, return_tensors="np",
        )  # fmt: skip

    def encode(
        self, processor: Any, spec: DatasetSpec, rows: dict[str, list], padding: bool | str = True,
        max_length: int | None = None,
    ) -> Encoded:  # fmt: skip
        import numpy as np

        enc = self.tokenize(processor, spec, rows, padding, max_length)
        return Encoded({k: np.asarray(v, dtype=np.int64) for k, v in enc.items()})

    def lengths(self, processor: Any, spec: DatasetSpec, rows: dict[str, list]) -> list[int]:
        enc = processor(
            *self._texts(spec, rows), truncation=True, max_length=spec.max_length,
            is_split_into_words=self.split_into_words,
        )  # fmt: skip
        return [len(ids) for ids in enc["input_ids"]]
