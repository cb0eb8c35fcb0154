"""Tiny randomly initialised models and their processors, built in the tests (no hub): one per family.

Hidden sizes of 16-32 and one layer: each saves in well under a second, and exports and quantizes in a few.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

WORDS = "the a movie film plot was is good bad great awful dull fine anna ben works for in paris oslo acme".split()
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
LABELS = ["NEGATIVE", "POSITIVE"]
SHAPES = ["horizontal", "vertical", "diagonal"]
POSITIONS = 512


def _labels(head: str) -> dict[str, Any]:
    names = TAGS if head == "token" else SHAPES if head == "image" else LABELS
    return {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}


def word_tokenizer(out: Path) -> None:
    """A WordPiece tokenizer over `WORDS` (BERT's format: vocab.txt)."""
    from transformers import BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(out / "vocab.txt"), model_max_length=POSITIONS).save_pretrained(out)


def byte_level_tokenizer(out: Path) -> None:
    """A byte-level BPE tokenizer (RoBERTa's format), trained on `WORDS` in memory."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        [" ".join(WORDS)] * 4, vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    )
    bpe.save_model(str(out))
    RobertaTokenizerFast(
        vocab_file=str(out / "vocab.json"), merges_file=str(out / "merges.txt"), model_max_length=POSITIONS - 2
    ).save_pretrained(out)


def unigram_tokenizer(out: Path, fast_class: str) -> None:
    """A Unigram (sentencepiece-style) tokenizer, saved in tokenizer.json only (DeBERTa-v2, XLM-R)."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    specials = (
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        if "Deberta" in fast_class
        else ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    )
    trainer = trainers.UnigramTrainer(
        vocab_size=120, special_tokens=specials, unk_token=specials[1 if "Deberta" in fast_class else 3]
    )
    tokenizer.train_from_iterator([" ".join(WORDS)] * 8, trainer)
    getattr(transformers, fast_class)(tokenizer_object=tokenizer, model_max_length=POSITIONS - 2).save_pretrained(out)


TEXT_FAMILIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    # model_type: (config class, tokenizer kind, config arguments)
    "bert": ("BertConfig", "word", {}),
    "distilbert": ("DistilBertConfig", "word", {"dim": 16, "hidden_dim": 32, "n_layers": 1, "n_heads": 2}),
    "roberta": ("RobertaConfig", "byte", {"pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2}),
    "electra": ("ElectraConfig", "word", {"embedding_size": 16}),
    "deberta-v2": ("DebertaV2Config", "DebertaV2TokenizerFast", {"pad_token_id": 0}),
    "xlm-roberta": ("XLMRobertaConfig", "XLMRobertaTokenizerFast", {"pad_token_id": 1}),
    "funnel": ("FunnelConfig", "word", {"block_sizes": [1], "d_model": 16, "n_head": 2, "d_head": 8, "d_inner": 32}),
}
IMAGE_FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "vit": ("ViTConfig", {"image_size": 16, "patch_size": 8}),
    "deit": ("DeiTConfig", {"image_size": 16, "patch_size": 8}),
    "swin": (
        "SwinConfig",
        {"image_size": 16, "patch_size": 4, "embed_dim": 8, "depths": [1], "num_heads": [2], "window_size": 2},
    ),
    "convnext": ("ConvNextConfig", {"num_stages": 2, "hidden_sizes": [8, 16], "depths": [1, 1], "image_size": 16}),
    "resnet": ("ResNetConfig", {"embedding_size": 8, "hidden_sizes": [8, 16], "depths": [1, 1], "layer_type": "basic"}),
}
SMALL = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32}


def text_model(
    out: Path,
    model_type: str = "bert",
    head: str = "sequence",
    init_range: float | None = None,
    positions: int = POSITIONS,
) -> Path:
    """A tiny text model with a sequence (or `token`) classification head, and its tokenizer; a wide
    `init_range` spreads its random logits, so its answers vary from sentence to sentence; `positions` is its
    position limit (config.json max_position_embeddings)."""
    import torch
    import transformers

    config_class, tokenizer, extra = TEXT_FAMILIES[model_type]
    out.mkdir(parents=True, exist_ok=True)
    if tokenizer == "word":
        word_tokenizer(out)
    elif tokenizer == "byte":
        byte_level_tokenizer(out)
    else:
        unigram_tokenizer(out, tokenizer)
    vocab = len(transformers.AutoTokenizer.from_pretrained(out))
    sizes = {} if model_type in ("distilbert", "funnel") else SMALL
    config = getattr(transformers, config_class)(
        vocab_size=vocab, max_position_embeddings=positions, **{**sizes, **extra}, **_labels(head)
    )
    if init_range is not None:
        config.initializer_range = init_range
    auto = (
        transformers.AutoModelForTokenClassification
        if head == "token"
        else transformers.AutoModelForSequenceClassification
    )
    torch.manual_seed(0)
    auto.from_config(config).save_pretrained(out)
    return out


def image_model(out: Path, model_type: str = "vit") -> Path:
    """A tiny image classifier over 16x16 images, and its image processor."""
    import torch
    import transformers

    config_class, extra = IMAGE_FAMILIES[model_type]
    out.mkdir(parents=True, exist_ok=True)
    sizes = SMALL if model_type in ("vit", "deit") else {}
    config = getattr(transformers, config_class)(num_channels=3, **{**sizes, **extra}, **_labels("image"))
    config.architectures = [config_class.removesuffix("Config") + "ForImageClassification"]  # DeiT has two heads
    torch.manual_seed(0)
    transformers.AutoModelForImageClassification.from_config(config).save_pretrained(out)
    transformers.ViTImageProcessor(
        size={"height": 16, "width": 16}, image_mean=[0.5] * 3, image_std=[0.5] * 3
    ).save_pretrained(out)
    return out


def sentences(n: int, seed: int = 0) -> list[dict[str, Any]]:
    import random

    rng = random.Random(seed)
    return [{"sentence": " ".join(rng.choices(WORDS, k=rng.randint(3, 9))), "label": i % 2} for i in range(n)]


def tagged(n: int, seed: int = 0) -> list[dict[str, Any]]:
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        tokens = rng.choices(WORDS, k=rng.randint(3, 8))
        rows.append({"tokens": tokens, "ner_tags": [rng.randrange(len(TAGS)) for _ in tokens]})
    return rows


def images(n: int, seed: int = 0) -> list[Any]:
    """`(PIL image, label)` pairs of 16x16 noise."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    return [(Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)), i % len(SHAPES)) for i in range(n)]


ST_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
]


def embedding_model(
    out: Path, pooling: dict[str, Any] | None = None, modules: list[dict[str, Any]] | None = None, outlier: float = 0.0
) -> Path:
    """A tiny BERT encoder in the sentence-transformers layout (`modules.json`, `1_Pooling/config.json`: mean
    pooling, normalised, unless `pooling` / `modules` say otherwise). `outlier` plants an activation outlier:
    one hidden channel of the attention output scaled by it (its LayerNorm weight), which per-tensor int8
    activations of the next MatMul cannot hold beside the others; the layer's output LayerNorm drops that
    channel, so only what int8 did to the rest reaches the sentence vector."""
    import json

    import torch
    import transformers

    out.mkdir(parents=True, exist_ok=True)
    word_tokenizer(out)
    vocab = len(transformers.AutoTokenizer.from_pretrained(out))
    config = transformers.BertConfig(vocab_size=vocab, max_position_embeddings=POSITIONS, **SMALL)
    config.initializer_range = 0.5  # vectors that differ from sentence to sentence
    torch.manual_seed(0)
    model = transformers.BertModel(config, add_pooling_layer=False)
    if outlier:
        with torch.no_grad():
            layer = model.encoder.layer[-1]
            layer.attention.output.LayerNorm.weight[0] = outlier
            layer.output.LayerNorm.weight[0] = 0.0
    model.save_pretrained(out)
    (out / "modules.json").write_text(json.dumps(ST_MODULES if modules is None else modules))
    (out / "1_Pooling").mkdir(exist_ok=True)
    mean = {"word_embedding_dimension": SMALL["hidden_size"], "pooling_mode_mean_tokens": True}
    (out / "1_Pooling" / "config.json").write_text(json.dumps(mean if pooling is None else pooling))
    return out


DECODER_FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    # model_type: (config class, config arguments beyond the hidden sizes)
    "llama": ("LlamaConfig", {"max_position_embeddings": 128}),
    "gpt2": ("GPT2Config", {"n_embd": 16, "n_layer": 1, "n_head": 2, "n_positions": 128}),
    "qwen2": ("Qwen2Config", {"max_position_embeddings": 128}),
    "mistral": ("MistralConfig", {"max_position_embeddings": 128}),
    "phi3": ("Phi3Config", {"max_position_embeddings": 128, "pad_token_id": 0}),
    "gpt_neox": ("GPTNeoXConfig", {"max_position_embeddings": 128}),
    "opt": ("OPTConfig", {"max_position_embeddings": 128, "ffn_dim": 32, "word_embed_proj_dim": 16}),
    "gemma": ("GemmaConfig", {"max_position_embeddings": 128, "head_dim": 8}),
    "ctrl": ("CTRLConfig", {"n_embd": 16, "n_layer": 1, "n_head": 2, "dff": 32, "n_positions": 128}),  # no export
}


def decoder_model(
    out: Path, model_type: str = "llama", init_range: float | None = None, outliers: float | None = None
) -> Path:
    """A tiny random causal language model (one layer, hidden 16) and a byte-level BPE tokenizer without a pad
    token (GPT-2's format), trained on `WORDS`. `outliers`: every matrix of the layer gets, in each output's
    first input, that many times its largest weight: 4-bit blocks holding it round the rest to zero, while
    int8's 127 steps keep them."""
    import torch
    import transformers
    from tokenizers import ByteLevelBPETokenizer

    out.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([" ".join(WORDS)] * 4, vocab_size=300, special_tokens=["<|endoftext|>"])
    bpe.save_model(str(out))
    transformers.GPT2TokenizerFast(
        vocab_file=str(out / "vocab.json"), merges_file=str(out / "merges.txt"), model_max_length=128
    ).save_pretrained(out)
    vocab = len(transformers.AutoTokenizer.from_pretrained(out))
    config_class, extra = DECODER_FAMILIES[model_type]
    sizes = {} if model_type in ("gpt2", "ctrl") else {**SMALL, "num_key_value_heads": 2}
    if model_type in ("gpt_neox", "opt"):
        sizes.pop("num_key_value_heads")
    if model_type == "opt":
        sizes.pop("intermediate_size")
    config = getattr(transformers, config_class)(vocab_size=vocab, **{**sizes, **extra}, bos_token_id=0, eos_token_id=0)
    if init_range is not None:
        config.initializer_range = init_range
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config)
    if outliers is not None:
        with torch.no_grad():
            for name, weight in model.named_parameters():
                if weight.dim() == 2 and (".layers." in name or ".h." in name):  # the blocks, not embeddings
                    weight[:, 0] = outliers * weight.abs().max()
    model.save_pretrained(out)
    return out


def documents(n: int, seed: int = 0, words: tuple[int, int] = (4, 30)) -> list[dict[str, Any]]:
    """Texts of `WORDS` of random lengths (in `words`), in a `text` column."""
    import random

    rng = random.Random(seed)
    return [{"text": " ".join(rng.choices(WORDS, k=rng.randint(*words)))} for _ in range(n)]


def matmul_chain() -> Any:
    """An ONNX graph x -> MatMul 'first' -> Relu 'act' -> MatMul 'second' -> z, 64 wide, random fp32 weights."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32), w) for w in ("W1", "W2")]
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h"], name="first"),
        helper.make_node("Relu", ["h"], ["r"], name="act"),
        helper.make_node("MatMul", ["r", "W2"], ["z"], name="second"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n", 64])], weights,
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def weight_only(model: Any, exclude: tuple[str, ...] = ()) -> Any:
    """`model` (an onnx ModelProto, left as it is) with its MatMuls but `exclude` in 4-bit blocks of 32."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(onnx.ModelProto.FromString(model.SerializeToString()), block_size=32,
                                     nodes_to_exclude=list(exclude))  # fmt: skip
    quantizer.process()
    return quantizer.model.model
