"""Memory a run has freed, handed back to the system.

glibc keeps freed memory of a process resident (its heap, and buffers below its dynamic mmap threshold, which
grows up to 32 MB with the large buffers a model load frees), so a run that exported a 135M decoder kept several
GB it no longer used, and the next build peaked on top of them. After a long build (`HEAVY_BUILD_S`: training,
an export, a decoder's quantization) the cache collects cycles and trims the heap (`release`)."""

from __future__ import annotations

HEAVY_BUILD_S = 5.0  # a collection costs ~0.2 s with the ML libraries loaded: worth it only after a long build


def release_free_heap() -> None:
    """Hand the C heap's free memory back to the OS (glibc's `malloc_trim`; nothing elsewhere).

    Loading a model frees its protobuf buffers, but glibc keeps what fits its heap resident, and how much
    depends on the file's layout: the same graph as exported and as re-saved by `onnx.save` held 134 and 108 MB
    after loading. Trimmed, both hold what the session holds (106 MB), so identical graphs read alike."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc
        return
    if trim is not None:
        trim(0)


def release() -> None:
    """Collect reference cycles (a torch model's), then trim the heap."""
    import gc

    gc.collect()
    release_free_heap()
