"""The one table renderer: plain text for the terminal, or a Markdown table padded like the seed cards'."""

from __future__ import annotations


def table(header: list[str], rows: list[list[str]], markdown: bool = False) -> list[str]:
    """Columns padded to their widest cell. Plain: left-aligned, two spaces apart. Markdown: centred cells
    between pipes and a `:---:` rule, still readable as text; empty header cells there are the seeds'
    separator columns."""
    if markdown:
        header = [h or "   " for h in header]
    widths = [max(len(c) for c in column) for column in zip(header, *rows, strict=True)]
    if not markdown:
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        return [fmt.format(*header).rstrip()] + [fmt.format(*r).rstrip() for r in rows]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.center(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(header), line([":" + "-" * (w - 2) + ":" for w in widths]), *map(line, rows)]
