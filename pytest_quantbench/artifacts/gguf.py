"""A single GGUF file as a model: transformers' GGUF loader dequantizes it into an fp32 model folder.

llama.cpp's format stores blockwise-quantized weights (Q4_1, Q8_0, ...); transformers reads the file with the
`gguf` package and dequantizes every tensor to fp32, so the "fp32" baseline of a suite on a GGUF file is not
the model as trained: it carries the file's own rounding, and what a config measures is its quantization *on
top of* that one. The folder says so (`SOURCE_FILE`), and the language-model task repeats it once per run.

A user's `.gguf` given as `model_name_or_path` is converted once into the artifact cache, keyed by the file's
bytes and the libraries that read it; a file that is missing, not GGUF or of an architecture transformers
cannot read is one line naming the suite file, the field and the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pytest_quantbench.artifacts.cache import ArtifactCache, digest, library_versions, update_with_file
from pytest_quantbench.errors import ModelError
from pytest_quantbench.extras import needs
from pytest_quantbench.progress import Progress, say

SUFFIX = ".gguf"
MAGIC = b"GGUF"  # the first four bytes of every GGUF file
SOURCE_FILE = "quantbench_gguf.json"  # in a converted folder: which file it was dequantized from
LIBRARIES = ("gguf", "transformers", "torch")
CONVERTER_VERSION = 1  # bumped when what `convert` writes changes


@dataclass(frozen=True)
class GgufSource:
    """What a converted folder was dequantized from: the file's name and the tensor types it held."""

    file: str
    quantization: str  # e.g. "Q4_1" (the file's most common tensor type), "F32"

    def line(self) -> str:
        return (
            f"fp32 weights dequantized from {self.file} ({self.quantization}): the fp32 baseline carries the "
            "file's own rounding, and each config is measured against it"
        )


def is_gguf(path: Path) -> bool:
    return path.suffix.lower() == SUFFIX


def problem(path: Path) -> str | None:
    """Why `path` is not a readable GGUF file, or None."""
    if not path.is_file():
        return f"GGUF file {path} does not exist" if not path.exists() else f"GGUF path {path} is not a file"
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError as exc:
        return f"GGUF file {path} cannot be read: {exc.strerror or exc}"
    return None if head == MAGIC else f"{path} is not a GGUF file (it does not start with {MAGIC.decode()})"


def quantization_of(path: Path) -> str:
    """The file's most common tensor type among its 2-D weights (Q4_1 for a Q4_1 file, whose norms stay F32)."""
    from collections import Counter

    from gguf import GGUFReader

    types = Counter(t.tensor_type.name for t in GGUFReader(path).tensors if len(t.shape) >= 2)
    return types.most_common(1)[0][0] if types else "F32"


def source_of(model_dir: Path) -> GgufSource | None:
    """What a folder converted here was dequantized from (None: not converted from a GGUF file)."""
    found = model_dir / SOURCE_FILE
    if not found.is_file():
        return None
    fields = json.loads(found.read_text())
    return GgufSource(str(fields["file"]), str(fields["quantization"]))


def convert(gguf_file: Path, out: Path) -> None:
    """The fp32 transformers folder (config, weights, tokenizer) of a GGUF file, and where it came from."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with needs("zoo", f"the GGUF file {gguf_file.name}"):
        import accelerate  # type: ignore[import-untyped]  # noqa: F401
        import gguf  # noqa: F401  (transformers' loader needs it; say so with the extra's install line)

        folder, name = gguf_file.parent, gguf_file.name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        quantization = quantization_of(gguf_file)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / SOURCE_FILE).write_text(json.dumps({"file": name, "quantization": quantization}))


def converted(gguf_file: Path, cache: ArtifactCache, progress: Progress = say, *, suite: Path | None = None) -> Path:
    """The cached fp32 folder of a GGUF file, converted on first use; a bad file is one `ModelError` line."""
    found = problem(gguf_file)
    where = suite or gguf_file
    if found:
        raise ModelError(where, "model_name_or_path", found)
    with needs("zoo", f"the GGUF file {gguf_file.name}"):
        content = update_with_file(hashlib.sha256(), gguf_file).hexdigest()
        key = digest("gguf", CONVERTER_VERSION, content, library_versions(LIBRARIES))

    def build(out: Path) -> None:
        progress(f"quantbench: dequantizing {gguf_file.name} to an fp32 model (once; cached under {cache.root})")
        try:
            convert(gguf_file, out)
        except (ValueError, KeyError, OSError, RuntimeError) as exc:  # transformers' words for an unreadable file
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelError(where, "model_name_or_path", f"GGUF file {gguf_file} cannot be loaded: {first}") from None

    return cache.build("gguf", key, build, {"file": gguf_file.name})
