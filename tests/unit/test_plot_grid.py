"""The PNG plot as a grid of panels (two wide, readable at 100% however many suites), and a panel with nothing to
draw saying why instead of drawing empty axes."""

from __future__ import annotations

from pathlib import Path

from synthetic_runs import suite_run

from pytest_quantbench.reports import plot
from pytest_quantbench.results.run import Run

SUITES = tuple(f"suite-{i}" for i in range(5))


def test_five_suites_are_a_grid_two_panels_wide(tmp_path: Path) -> None:
    import matplotlib.image

    plot.save_plot(suite_run(configs=3, suites=SUITES), tmp_path / "plot.png")
    height, width, _ = matplotlib.image.imread(tmp_path / "plot.png").shape
    assert (width, height) == (2 * 850, 3 * 650)  # not one 5-panel strip


def test_a_panel_with_nothing_to_draw_says_why() -> None:
    full = suite_run(configs=3, suites=("timed-only",))
    latency_only = Run(full.source, full.machine, full.commit, full.suites, (), full.timings)
    calls = []

    class Axes:  # what `_panel` asks of matplotlib's axes, recorded
        def __getattr__(self, name):
            return lambda *args, **kwargs: calls.append((name, args))

    plot._panel(Axes(), latency_only, latency_only.suites[0], (1, 16))
    (text,) = [args[2] for name, args in calls if name == "text"]
    assert text.startswith("no config has both accuracy and a latency at this shape")
    assert ("set_axis_off", ()) in calls and not any(name == "scatter" for name, _ in calls)
    assert plot.nothing_to_draw(None, "accuracy", []) == "not timed in this run"
    assert plot.nothing_to_draw((1, 16), None, []) == "not evaluated in this run"
    assert plot.nothing_to_draw((1, 16), "accuracy", [plot.Point(1.0, 0.9, "1", "pass")]) is None
