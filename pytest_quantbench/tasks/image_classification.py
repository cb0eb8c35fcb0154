"""Image classification: images (PIL, as `datasets` decodes them) through the model's image processor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_quantbench.records import InputKind
from pytest_quantbench.suite import DatasetSpec
from pytest_quantbench.suite.vocabulary import BUILTIN_TASKS
from pytest_quantbench.tasks.base import Encoded
from pytest_quantbench.tasks.classification import ClassifierTask

THUMBNAIL_PX = 48  # the longer side of an image a report shows: a few kB inline


class ImageClassification(ClassifierTask):
    name = "image-classification"
    vocabulary = BUILTIN_TASKS[name]
    export_task = "image-classification"
    model_class = "AutoModelForImageClassification"
    head_suffix = "ForImageClassification"
    processor_files = ("preprocessor_config.json",)

    def check_input(self, value: Any) -> str | None:
        if value is None:
            return "is null"
        return None if hasattr(value, "convert") else f"is {type(value).__name__} {value!r}, not an image"

    def load_processor(self, model_dir: Path) -> Any:
        from transformers import AutoImageProcessor

        return AutoImageProcessor.from_pretrained(model_dir)

    def encode(
        self, processor: Any, spec: DatasetSpec, rows: dict[str, list], padding: bool | str = True,
        max_length: int | None = None,
    ) -> Encoded:  # fmt: skip
        import numpy as np

        images = [img.convert("RGB") for img in rows[spec.primary]]
        pixels = processor(images=images, return_tensors="np")["pixel_values"]
        return Encoded({"pixel_values": pixels.astype(np.float32)})

    def shown_input(self, value: Any) -> tuple[InputKind, str]:
        """A thumbnail, as a PNG data URI a report inlines."""
        import base64
        import io

        image = value.convert("RGB")
        image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return InputKind.IMAGE, "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
