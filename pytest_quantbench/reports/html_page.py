"""The HTML report's frame: its inline style sheet and its one small script (table sorting), so that the file
opens from disk with no network. `page` wraps an escaped body.

The script sorts a `table.sortable` by a clicked header (again: the other way), each cell sorting by its
`data-v` (numbers as numbers, empty last); `?sort=TABLE_ID:COLUMN[:desc]` sorts on load, which is how the
browser test drives it. It marks `<body data-ready>` when it has run, and `data-error` on an uncaught error.
"""

from __future__ import annotations

from html import escape

STYLE = """
:root { --pass: #1a7f37; --fail: #cf222e; --collapse: #82071e; --inconclusive: #9a6700; --muted: #57606a; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 16px 24px; color: #1f2328; }
h1 { font-size: 22px; margin: 8px 0; } h2 { font-size: 19px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px;
margin-top: 32px; } h3 { font-size: 16px; margin: 20px 0 8px; }
.muted, .note { color: var(--muted); } .note { font-size: 13px; }
.counts span { display: inline-block; margin-right: 14px; font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
.scroll { overflow-x: auto; max-height: 70vh; overflow-y: auto; border: 1px solid #d0d7de; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 8px; border-bottom: 1px solid #eaeef2; text-align: left; white-space: nowrap; }
th { background: #f6f8fa; position: sticky; top: 0; cursor: pointer; user-select: none; white-space: normal;
     vertical-align: bottom; }
th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after { content: " \\25BC"; }
td.num { text-align: right; } tr:hover td { background: #f6f8fa; }
.v { font-weight: 600; } .v.PASS { color: var(--pass); } .v.FAIL { color: var(--fail); }
.v.COLLAPSE { color: var(--collapse); } .v.INCONCLUSIVE { color: var(--inconclusive); } .v.none { color: var(--muted); }
svg.chart { width: 100%; max-width: 760px; height: auto; display: block; margin: 12px 0; }
svg text { font: 12px system-ui, sans-serif; fill: #1f2328; } svg .tick { fill: var(--muted); }
svg .axis { font-weight: 600; } svg .frame { fill: none; stroke: #d0d7de; } svg .grid { stroke: #eaeef2; }
svg .even { stroke: #8c959f; stroke-dasharray: 4 3; } svg .whisker { stroke-width: 1.5; }
svg.many .whisker { stroke-opacity: 0.3; stroke-width: 1; } /* many configs: the dots stay legible */
svg .front { fill: none; stroke: #1a7f37; stroke-width: 1.5; stroke-dasharray: 6 3; }
svg .ring { fill: none; stroke: #1a7f37; stroke-width: 2; } svg .label { font-size: 11px; font-weight: 600; }
.pt.PASS .dot { fill: #0969da; } .pt.PASS .whisker { stroke: #0969da; }
.pt.FAIL .dot, .pt.COLLAPSE .dot { fill: var(--fail); } .pt.FAIL .whisker, .pt.COLLAPSE .whisker { stroke: var(--fail); }
.pt.INCONCLUSIVE .dot { fill: #bf8700; } .pt.INCONCLUSIVE .whisker { stroke: #bf8700; }
.pt.none .dot { fill: #8c959f; } .pt.none .whisker { stroke: #8c959f; }
.legend span { margin-right: 14px; font-size: 13px; } .legend i { display: inline-block; width: 10px; height: 10px;
border-radius: 50%; margin-right: 4px; vertical-align: middle; }
.legend i.ring-key { border: 2px solid #1a7f37; width: 8px; height: 8px; }
svg .bar.fp32 { fill: #8c959f; } svg .bar.int8 { fill: #0969da; }
svg .trend { fill: none; stroke: #0969da; stroke-width: 1.5; } svg .trend-dot { fill: #0969da; }
details { border: 1px solid #d0d7de; border-radius: 6px; margin: 6px 0; padding: 6px 10px; }
details summary { cursor: pointer; font-weight: 600; } details summary .muted { font-weight: 400; margin-left: 8px; } details ul { margin: 6px 0; padding-left: 20px; }
table.changed td.input { white-space: normal; max-width: 560px; } img.thumb { image-rendering: pixelated; width: 48px; }
code { font-size: 12.5px; background: #f6f8fa; padding: 1px 4px; border-radius: 4px; }
"""

SCRIPT = """
(function () {
  window.addEventListener("error", function (e) { document.body.setAttribute("data-error", String(e.message)); });
  function key(row, col) {
    var v = row.cells[col].getAttribute("data-v");
    if (v === null) { v = row.cells[col].textContent; }
    var n = parseFloat(v);
    return { empty: v === "", num: isNaN(n) ? null : n, text: v };
  }
  function sortTable(table, col, desc) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (x, y) {
      var a = key(x, col), b = key(y, col);
      if (a.empty !== b.empty) { return a.empty ? 1 : -1; }
      var r = (a.num !== null && b.num !== null) ? a.num - b.num : a.text.localeCompare(b.text);
      return desc ? -r : r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    table.setAttribute("data-sorted", col + (desc ? ":desc" : ":asc"));
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h, i) {
      h.setAttribute("aria-sort", i === col ? (desc ? "descending" : "ascending") : "none");
    });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h, i) {
      h.addEventListener("click", function () { sortTable(table, i, table.getAttribute("data-sorted") === i + ":asc"); });
    });
  });
  var asked = new URLSearchParams(window.location.search).get("sort");
  if (asked) {
    var parts = asked.split(":"), table = document.getElementById(parts[0]);
    if (table) { sortTable(table, parseInt(parts[1], 10), parts[2] === "desc"); }
  }
  document.body.setAttribute("data-ready", "1");
})();
"""


def page(title: str, body: str) -> str:
    """The whole document: `body` is already escaped HTML, `title` is text."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n"
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
