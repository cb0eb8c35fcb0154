"""The end-of-run console summary: one headline row per config (metric drop, speed-up, verdict)."""

from __future__ import annotations

from .harness import Harness


def summary_lines(harness: Harness) -> list[str]:
    rows = []
    speedups: dict[str, list[str]] = {}
    for (case_key, shape), value in harness.timing.speedups.items():
        speedups.setdefault(case_key, []).append(f"{shape} x{value:.2f}")
    for key, ev in harness.evaluations.items():
        v = ev.verdict
        verdict = "PASS" if v.passed else ("COLLAPSE" if v.collapsed else "FAIL")
        if ev.report["quantized_nothing"]:
            verdict += " (quantized nothing)"
        metrics = ", ".join(f"{r.name} {r.original:.3f}->{r.quantized:.3f}" for r in v.results)
        speed = "; ".join(speedups.get(key, [])) or "not timed"
        rows.append((ev.case.suite.name, ev.case.id, metrics, speed, verdict))
    for key in speedups.keys() - harness.evaluations.keys():
        suite, _, case_id = key.rpartition("::")
        rows.append((suite.rsplit("/", 1)[-1], case_id, "not evaluated", "; ".join(speedups[key]), ""))
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    header = ("suite", "config", "accuracy (original->quantized)", "speed-up vs fp32", "verdict")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header)] + [fmt.format(*r) for r in rows]
