"""How a sentence embedding is read from an encoder's token vectors: the model folder's pooling, as
sentence-transformers does it.

A folder in the sentence-transformers layout says it in `modules.json` (a `Transformer`, a `Pooling` whose
`config.json` names the modes, an optional `Normalize`); a plain transformers encoder gets mean pooling,
unnormalised (what sentence-transformers itself falls back to). Each mistake in those files is one line naming
the file and the field (`PoolingProblem`), found before anything is built.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODULES_FILE = "modules.json"
POOLING_FILE = "config.json"  # in the Pooling module's folder
ST_PREFIX = "sentence_transformers.models."


def _cls(tokens: Any, mask: Any) -> Any:
    return tokens[:, 0]


def _max(tokens: Any, mask: Any) -> Any:
    import numpy as np

    return np.where(mask[..., None] > 0, tokens, -1e9).max(axis=1)


def _mean(tokens: Any, mask: Any) -> Any:
    return (tokens * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True).clip(min=1e-9)


def _mean_sqrt_len(tokens: Any, mask: Any) -> Any:
    import numpy as np

    return (tokens * mask[..., None]).sum(axis=1) / np.sqrt(mask.sum(axis=1, keepdims=True).clip(min=1e-9))


def _weighted_mean(tokens: Any, mask: Any) -> Any:
    import numpy as np

    weights = mask * np.arange(1, mask.shape[1] + 1, dtype=tokens.dtype)  # later tokens weigh more
    return (tokens * weights[..., None]).sum(axis=1) / weights.sum(axis=1, keepdims=True).clip(min=1e-9)


def _last_token(tokens: Any, mask: Any) -> Any:
    import numpy as np

    last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1] > 0, axis=1)  # right or left padding alike
    return tokens[np.arange(len(tokens)), last]


# sentence-transformers' modes, in the order it concatenates them when several are on: (name, config key, how).
MODES: tuple[tuple[str, str, Callable[[Any, Any], Any]], ...] = (
    ("cls", "pooling_mode_cls_token", _cls),
    ("max", "pooling_mode_max_tokens", _max),
    ("mean", "pooling_mode_mean_tokens", _mean),
    ("mean_sqrt_len", "pooling_mode_mean_sqrt_len_tokens", _mean_sqrt_len),
    ("weightedmean", "pooling_mode_weightedmean_tokens", _weighted_mean),
    ("lasttoken", "pooling_mode_lasttoken", _last_token),
)
MODE_NAMES = tuple(name for name, _, _ in MODES)
MODE_KEYS = tuple(key for _, key, _ in MODES)
# `Pooling(pooling_mode=...)` words a few modes otherwise than its config keys do
MODE_ALIASES = {"mean_sqrt_len_tokens": "mean_sqrt_len", "last_token": "lasttoken", "weighted_mean": "weightedmean"}
# The module types read here; any other (Dense, a custom layer) changes the vectors in ways not reproduced.
KNOWN_MODULES = ("Transformer", "Pooling", "Normalize")


class PoolingProblem(Exception):
    """A sentence-transformers file that cannot be read as it says: the message names the file and field."""


@dataclass(frozen=True)
class Pooling:
    """How token vectors become one sentence vector: the modes (concatenated in order), then an L2 norm or not,
    and where that was read from (what the card states)."""

    modes: tuple[str, ...] = ("mean",)
    normalize: bool = False
    source: str = "a plain transformers encoder: mean pooling, unnormalised"

    def __call__(self, tokens: Any, mask: Any) -> Any:
        """The sentence vectors of one batch: `tokens` (batch, length, hidden), `mask` (batch, length)."""
        import numpy as np

        tokens, mask = np.asarray(tokens, dtype=np.float32), np.asarray(mask, dtype=np.float32)
        how = {name: fn for name, _, fn in MODES}
        pooled = np.concatenate([how[mode](tokens, mask) for mode in self.modes], axis=-1).astype(np.float32)
        if self.normalize:
            pooled /= np.linalg.norm(pooled, axis=-1, keepdims=True).clip(min=1e-12)
        return pooled

    def describe(self) -> str:
        return f"{'+'.join(self.modes)} pooling{', normalised' if self.normalize else ''} ({self.source})"


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoolingProblem(f"{path}: not readable JSON ({' '.join(str(exc).split())})") from None


def pooling_modes(path: Path) -> tuple[str, ...]:
    """The modes a Pooling `config.json` turns on (`pooling_mode_*: true`, or a `pooling_mode` name)."""
    config = _json(path)
    if not isinstance(config, dict):
        raise PoolingProblem(f"{path}: expected a JSON object")
    named = config.get("pooling_mode")
    if named is not None:
        mode = MODE_ALIASES.get(str(named), str(named))
        if mode not in MODE_NAMES:
            raise PoolingProblem(f"{path}: pooling_mode: no mode '{named}' (modes: {', '.join(MODE_NAMES)})")
        return (mode,)
    unknown = [k for k, v in config.items() if k.startswith("pooling_mode_") and k not in MODE_KEYS and v]
    if unknown:
        raise PoolingProblem(f"{path}: {unknown[0]}: no such pooling mode (keys: {', '.join(MODE_KEYS)})")
    modes = tuple(name for name, key, _ in MODES if config.get(key) is True)
    if not modes:
        raise PoolingProblem(f"{path}: no pooling mode is on (one of {', '.join(MODE_KEYS)} must be true)")
    return modes


def _module(model_dir: Path, index: int, entry: Any) -> tuple[str, Path]:
    """One `modules.json` entry's type (without the package prefix) and folder, once both are there."""
    where = f"{model_dir / MODULES_FILE}: [{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        raise PoolingProblem(f"{where}.type: missing (expected e.g. {ST_PREFIX}Pooling)")
    kind = entry["type"].removeprefix(ST_PREFIX)
    if kind not in KNOWN_MODULES:
        raise PoolingProblem(f"{where}.type: {entry['type']} is not read here (modules: {', '.join(KNOWN_MODULES)})")
    folder = model_dir / str(entry.get("path", ""))
    if kind == "Pooling" and not (folder / POOLING_FILE).is_file():
        raise PoolingProblem(f"{where}.path: '{entry.get('path', '')}' has no {POOLING_FILE} in {model_dir}")
    if kind == "Transformer" and folder.resolve() != model_dir.resolve():
        raise PoolingProblem(f"{where}.path: '{entry.get('path')}': the Transformer must be the folder itself")
    return kind, folder


def read_pooling(model_dir: Path) -> Pooling:
    """The folder's pooling: its sentence-transformers modules when it has `modules.json`, else mean pooling."""
    path = model_dir / MODULES_FILE
    if not path.is_file():
        return Pooling()
    entries = _json(path)
    if not isinstance(entries, list):
        raise PoolingProblem(f"{path}: expected a list of modules")
    modules = [_module(model_dir, i, entry) for i, entry in enumerate(entries)]
    pools = [folder for kind, folder in modules if kind == "Pooling"]
    if not pools:
        raise PoolingProblem(f"{path}: no {ST_PREFIX}Pooling module: the token vectors would not become one")
    normalize = any(kind == "Normalize" for kind, _ in modules)
    return Pooling(pooling_modes(pools[0] / POOLING_FILE), normalize, f"{MODULES_FILE}, {pools[0].name}")
