"""Where models and datasets come from: a `builtin:` recipe, a local path, or the Hugging Face hub.

The hub is checked up front (HF_HUB_OFFLINE, then a one-second connection probe) so that a case needing
it skips at once with the reason instead of retrying for minutes; a hub that accepts the connection but
answers late, or not at all, is bounded by `hub.load`'s deadlines.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pytest_quantbench import faults
from pytest_quantbench.artifacts import builtins, gguf, hub
from pytest_quantbench.artifacts.builtins import PREFIX
from pytest_quantbench.artifacts.cache import ArtifactCache, hash_files
from pytest_quantbench.artifacts.model_check import read_config
from pytest_quantbench.errors import SourceUnavailable
from pytest_quantbench.memo import Memo
from pytest_quantbench.progress import Progress, say
from pytest_quantbench.suite import PACKAGED_BUILDERS, Suite

MODEL_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.bin", "*.py"]


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@functools.cache
def hub_unreachable_reason() -> str | None:
    """Why the hub cannot be used right now, or None if it answers."""
    if _truthy("HF_HUB_OFFLINE") or _truthy("TRANSFORMERS_OFFLINE"):
        return "the Hugging Face hub is disabled (HF_HUB_OFFLINE is set)"
    endpoint = hub.endpoint()
    parsed = urlparse(endpoint)
    host, port = parsed.hostname or endpoint, parsed.port or (443 if parsed.scheme != "http" else 80)
    try:
        socket.create_connection((host, port), timeout=1.0).close()
    except OSError as exc:
        return f"the Hugging Face hub ({endpoint}) is unreachable: {exc.strerror or exc}"
    return None


def resolve_local(spec: str, base_dir: Path) -> Path | None:
    """`spec` as an existing local path (relative paths are taken from the suite file's folder)."""
    path = Path(os.path.expanduser(spec))
    if not path.is_absolute():
        path = base_dir / path
    return path if path.exists() else None


def hub_model_dir(repo_id: str, revision: str | None, progress: Progress | None = None) -> Path:
    """Snapshot of a hub model in the local Hugging Face cache, downloading it when the hub answers (within
    the run's deadlines: one line naming the model, the endpoint and what happened, never a hang)."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=MODEL_FILES, local_files_only=True))
    except Exception:  # not cached: fall through to the hub
        pass
    reason = hub_unreachable_reason()
    if reason:
        raise SourceUnavailable(f"model '{repo_id}' is not in the local cache and {reason}")
    what = f"model '{repo_id}'" + (f" (revision {revision})" if revision else "")
    return Path(
        hub.load(what, lambda: snapshot_download(repo_id, revision=revision, allow_patterns=MODEL_FILES), progress)
    )


def dataset_needs_hub(path: str, base_dir: Path) -> bool:
    return not (path in PACKAGED_BUILDERS or path.startswith(PREFIX) or resolve_local(path, base_dir))


_answered: set[str] = set()  # hub datasets whose metadata the hub served this run


def check_dataset_reachable(path: str, base_dir: Path, progress: Progress | None = None) -> None:
    """Fail fast when a hub dataset is asked for while the hub is unreachable, or does not answer for it.

    With HF_HUB_OFFLINE set explicitly, `datasets` may still find the dataset in its local cache, so it is
    left to try; a bare unreachable hub skips at once; a hub that answers 404 or not in time fails.
    """
    if not dataset_needs_hub(path, base_dir) or _truthy("HF_HUB_OFFLINE"):
        return
    reason = hub_unreachable_reason()
    if reason:
        raise SourceUnavailable(f"dataset '{path}' needs the hub and {reason}")
    if path not in _answered:
        hub.answers(f"dataset '{path}'", "dataset", path, progress)
        _answered.add(path)


def tried_locally(exc: SourceUnavailable, spec: str, base_dir: Path) -> SourceUnavailable:
    """A hub source that cannot be reached, saying the local folder it might have been was looked for too."""
    return SourceUnavailable(f"{exc}; no folder {base_dir / spec} beside the suite file either")


class Models:
    """The model folder of each suite (a builtin recipe, a local path or a hub snapshot), its content hash
    and its labels, resolved once per run."""

    def __init__(self, cache: ArtifactCache, progress: Progress = say) -> None:
        self.cache, self.progress = cache, progress
        self._memo = Memo()

    def model_dir(self, suite: Suite) -> Path:
        spec = suite.model_name_or_path

        def resolve() -> Path:
            if spec.startswith(PREFIX):
                return builtins.model_dir(spec[len(PREFIX) :], self.cache, self.progress)
            if gguf.is_gguf(Path(spec)):  # one file, dequantized into a cached folder (a missing one: one line)
                path = Path(os.path.expanduser(spec))
                path = path if path.is_absolute() else suite.base_dir / path
                return gguf.converted(path, self.cache, self.progress, suite=suite.path)
            local = resolve_local(spec, suite.base_dir)
            if local is not None:
                return local
            try:
                return hub_model_dir(spec, suite.revision, self.progress)
            except SourceUnavailable as exc:
                raise tried_locally(exc, spec, suite.base_dir) from None

        return self._memo(("model_dir", spec, suite.revision, str(suite.base_dir)), resolve)

    def model_hash(self, suite: Suite) -> str:
        def read() -> str:
            with faults.guard(f"{suite.path}: model_name_or_path"):  # a weights file this user cannot read
                return hash_files(self.model_dir(suite))

        return self._memo(("model_hash", str(suite.path)), read)

    def config(self, suite: Suite) -> dict[str, Any]:
        """The model's config.json; a `ModelError` line when it is missing or unreadable."""
        return self._memo(("config", str(suite.path)), lambda: read_config(suite.path, self.model_dir(suite)))

    def id2label(self, suite: Suite) -> dict[int, str]:
        """The head's labels as transformers reads them: config.json's `id2label`, else `LABEL_i` for each of its
        `num_labels` (2 when it says neither: transformers leaves default labels out of a saved config)."""

        def read() -> dict[int, str]:
            config = self.config(suite)
            count = config.get("num_labels")
            found = config.get("id2label") or {i: f"LABEL_{i}" for i in range(count if isinstance(count, int) else 2)}
            return {int(k): v for k, v in found.items()}

        return self._memo(("id2label", str(suite.path)), read)
