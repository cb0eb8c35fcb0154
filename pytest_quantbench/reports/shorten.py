"""Long suite names and config ids made to fit a column, readably: whole words from both ends around a
middle `…`, never cut mid-word without that marker, and never two ids of a column shortened alike where a
longer or other form tells them apart."""

from __future__ import annotations

import re

ELLIPSIS = "…"
SEPARATORS = re.compile(r"([-+])")  # between the words of an id (`grid.id_token` joins its pieces with them)


def _candidates(text: str, width: int) -> list[str]:
    """Every `head…tail` of whole words (and the separators beside them) that fits `width`, longest first; among
    equals, the one that keeps both ends, then the one that keeps more of the start."""
    words = SEPARATORS.split(text)  # words at even places, each separator between two of them
    count = (len(words) + 1) // 2
    found = []
    for heads in range(count):
        for tails in range(count - heads):
            head = "".join(words[: 2 * heads])  # the words and the separator after each
            tail = "".join(words[len(words) - 2 * tails :]) if tails else ""  # the separator before each
            if len(head) + len(ELLIPSIS) + len(tail) <= width and (head or tail):
                found.append((len(head) + len(tail), bool(head and tail), len(head), head + ELLIPSIS + tail))
    return [c for *_, c in sorted(found, reverse=True)]


def _cut_forms(text: str, width: int) -> list[str]:
    """Forms that cut the start mid-word (marked) to keep whole words at the end: the last resort when no
    whole-word form tells `text` from its neighbours; the plain cut of the start first."""
    words = SEPARATORS.split(text)
    tails = ["".join(words[len(words) - 2 * n :]) for n in range(1, (len(words) + 1) // 2)]
    keep = [width - len(ELLIPSIS) - len(tail) for tail in tails]
    forms = [text[:k] + ELLIPSIS + tail for k, tail in zip(keep, tails, strict=True) if k > 0]
    return [text[: max(width - len(ELLIPSIS), 0)] + ELLIPSIS, *forms]


def _ambiguous(form: str, others: list[str]) -> bool:
    """Whether another text could read as `form` too (it starts with its head and ends with its tail)."""
    head, _, tail = form.partition(ELLIPSIS)
    return any(len(o) > len(head) + len(tail) and o.startswith(head) and o.endswith(tail) for o in others)


def shorten(texts: list[str], width: int) -> dict[str, str]:
    """Each text in at most `width` characters: whole words from both ends around a middle `…`, so that the
    start and the end of an id stay readable, choosing for each the longest form no other of `texts` could
    also be shortened to (`dynamic-Add+MatMul-per_tensor` and `...-per_channel` keep their ends); a word is
    cut, marked, only where no whole-word form tells two texts apart."""
    out = {}
    for text in dict.fromkeys(texts):
        if len(text) <= width:
            out[text] = text
            continue
        others = [t for t in texts if t != text]
        options = [*_candidates(text, width), *_cut_forms(text, width)]
        out[text] = next((form for form in options if not _ambiguous(form, others)), options[0])
    return out
