"""A small ResNet trained here on the MNIST digits: the convolutional model behind the static int8 CNN row.

No pinned package ships ResNet weights, so the model is trained from scratch on the offline digits
(`builtin:mnist`), at 32x32 pixels: three stages of basic blocks, a few seconds an epoch on two cores.
What the row measures is how ONNX Runtime quantizes `Conv` (seed 004: ResNet-50 static int8 about 2x).
"""

from __future__ import annotations

import random
from pathlib import Path

from pytest_quantbench.zoo.training import BuildContext, read_images, seeded, train

IMAGE_SIZE = 32
EPOCHS = 4


def build_resnet_mnist(out: Path, data_dir: Path, ctx: BuildContext) -> None:
    import torch
    from transformers import ResNetConfig, ResNetForImageClassification, ViTImageProcessor

    processor = ViTImageProcessor(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, image_mean=[0.5] * 3, image_std=[0.5] * 3
    )
    processor.save_pretrained(out)
    images, labels = read_images(data_dir / "train.parquet")
    pixels = processor([image.convert("RGB") for image in images], return_tensors="pt")["pixel_values"]
    digits = [str(d) for d in range(10)]
    config = ResNetConfig(
        embedding_size=16, hidden_sizes=[16, 32, 64], depths=[1, 1, 1], layer_type="basic", downsample_in_first_stage=False,
        num_labels=10, id2label=dict(enumerate(digits)), label2id={d: i for i, d in enumerate(digits)},
    )  # fmt: skip
    model = seeded(lambda: ResNetForImageClassification(config))

    def batches(rng: random.Random) -> list[dict]:
        order = list(range(len(labels)))
        rng.shuffle(order)
        return [
            {"pixel_values": pixels[order[i : i + 64]], "labels": torch.tensor([labels[j] for j in order[i : i + 64]])}
            for i in range(0, len(order), 64)
        ]

    train(model, batches, epochs=EPOCHS, lr=3e-3, progress=ctx.progress, what="training resnet-mnist")
    model.save_pretrained(out)
