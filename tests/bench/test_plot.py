"""lsmdb.bench.plot: the cost model's prediction is drawn beside each measurement."""

from __future__ import annotations

import importlib.util

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                reason="needs matplotlib")


def _run(label: str, write: float, space: float, io: float, predicted: bool = True) -> dict:
    stats = {"user_bytes_written": 1000, "flush_bytes": 900, "compaction_bytes_written": 2100}
    if predicted:
        stats["predicted"] = {"write_amp": write, "space_amp": space,
                              "nonzero_result_lookup_io": io}
    return {"label": label, "engine": "lsmdb", "stats": stats,
            "summary": {"write_amp": 4.0, "io_write_amp": 4.5, "space_amp": 1.1,
                        "read_amp": 2.0, "blocks_per_lookup": 1.2},
            "results": [{"name": "fillrandom", "ops_per_sec": 1000.0}]}


def test_predictions_are_drawn_as_markers(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    from lsmdb.bench.plot import plot_runs

    drawn: list[tuple[Axes, list[float]]] = []
    real_scatter = Axes.scatter

    def scatter(self, x, y, *args, **kwargs):
        drawn.append((self, [float(v) for v in y]))
        return real_scatter(self, x, y, *args, **kwargs)

    monkeypatch.setattr(Axes, "scatter", scatter)
    bars: list[list[float]] = []
    real_bar = Axes.bar

    def bar(self, x, height, *args, **kwargs):
        bars.append([float(h) for h in height])
        return real_bar(self, x, height, *args, **kwargs)

    monkeypatch.setattr(Axes, "bar", bar)
    out = tmp_path / "p.png"
    plot_runs([_run("a", 7.0, 1.3, 1.02), _run("b", 13.0, 1.15, 1.04)], str(out))
    assert out.read_bytes()[:4] == b"\x89PNG"
    by_panel = {ax.get_ylabel(): values for ax, values in drawn}  # labelled after drawing
    assert set(by_panel) == {"write amp", "read amp", "space amp"}
    assert by_panel["write amp"] == [7.0, 13.0]
    assert by_panel["space amp"] == [1.3, 1.15]
    assert by_panel["read amp"] == [1.02, 1.04]
    assert [3.0, 3.0] in bars  # (flush + compaction) / user bytes: what the model predicts


def test_runs_without_a_prediction_plot_without_markers(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    from lsmdb.bench.plot import plot_runs

    calls = []
    monkeypatch.setattr(Axes, "scatter", lambda self, *a, **k: calls.append(a))
    plot_runs([_run("rocksdb", 0, 0, 0, predicted=False)], str(tmp_path / "p.png"))
    assert calls == []
