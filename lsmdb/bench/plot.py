"""``--plot out.png``: write, read and space amplification and throughput per configuration.

Four panels sharing the x axis (one position per configuration label): write amplification
(engine counters, the same without the WAL, and the kernel's write bytes when known), read
amplification (tables probed per point lookup, and data blocks per lookup), space
amplification (exact: SSTable bytes / live bytes), and throughput of each workload (grouped
bars, ops/s). Beside each measurement the cost model's prediction for the run's final shape
(``stats["predicted"]``, Monkey/Dostoevsky/Endure; lsmdb runs only) is drawn as a black
diamond: write amp against the no-WAL bar (the model has no WAL term), I/Os per lookup of an
existing key against blocks per lookup, space amp against space amp. Rendered with
matplotlib's Agg backend, so no display is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["plot_runs"]


def plot_runs(runs: Sequence[dict[str, Any]], path: str, title: str | None = None) -> None:
    """Write the four-panel PNG of ``runs`` (failed runs are left out) to ``path``."""
    try:
        import matplotlib
    except ImportError:
        from lsmdb.errors import InvalidArgumentError

        raise InvalidArgumentError("--plot needs matplotlib (pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in runs if "error" not in r]
    labels = [str(r.get("label", i)) for i, r in enumerate(ok)]
    xs = list(range(len(ok)))
    summary = [r.get("summary", {}) for r in ok]

    def series(key: str) -> list[float]:
        return [_number(s.get(key)) for s in summary]

    def predicted(key: str) -> list[float]:
        return [_number(((r.get("stats") or {}).get("predicted") or {}).get(key)) for r in ok]

    def model(ax, xs_at: list[float], values: list[float]) -> None:
        if any(v == v for v in values):  # not all NaN
            ax.scatter(xs_at, values, marker="D", color="black", zorder=3, s=28,
                       label="cost model (predicted)")

    fig, axes = plt.subplots(4, 1, figsize=(max(9.0, 1.1 * len(ok) + 6), 12), sharex=True)
    width = 0.38

    ax = axes[0]
    third = 0.27
    ax.bar([x - third for x in xs], series("write_amp"), third, label="engine counters")
    ax.bar(xs, [_write_amp_without_wal(r) for r in ok], third,
           label="flush + compaction (no WAL)")
    ax.bar([x + third for x in xs], series("io_write_amp"), third, label="kernel write bytes")
    model(ax, xs, predicted("write_amp"))
    ax.set_ylabel("write amp")
    ax.set_title("write amplification (bytes written / user bytes)")
    _legend(ax)

    ax = axes[1]
    ax.bar([x - width / 2 for x in xs], series("read_amp"), width, label="tables probed / get")
    ax.bar([x + width / 2 for x in xs], series("blocks_per_lookup"), width,
           label="data blocks / get")
    model(ax, [x + width / 2 for x in xs], predicted("nonzero_result_lookup_io"))
    if not any(v == v for v in series("read_amp") + series("blocks_per_lookup")):
        ax.text(0.5, 0.5, "no point-lookup workload in these runs", transform=ax.transAxes,
                ha="center", va="center", color="grey")
    ax.set_ylabel("read amp")
    ax.set_title("read amplification (point lookups; model: I/Os per lookup of a key that "
                 "exists)")
    _legend(ax)

    ax = axes[2]
    ax.bar(xs, series("space_amp"), 0.6, color="tab:green", label="measured")
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    model(ax, xs, predicted("space_amp"))
    ax.set_ylabel("space amp")
    ax.set_title("space amplification (SSTable bytes / live bytes)")
    _legend(ax)

    ax = axes[3]
    workloads: list[str] = []
    for r in ok:
        for row in r.get("results", []):
            if row["name"] not in workloads:
                workloads.append(row["name"])
    n = max(1, len(workloads))
    bar = 0.8 / n
    for j, name in enumerate(workloads):
        values = []
        for r in ok:
            rows = {row["name"]: row for row in r.get("results", [])}
            values.append(rows[name]["ops_per_sec"] if name in rows else float("nan"))
        ax.bar([x - 0.4 + bar * (j + 0.5) for x in xs], values, bar, label=name)
    ax.set_ylabel("ops/s")
    ax.set_yscale("log")
    ax.set_title("throughput per workload")
    _legend(ax)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, rotation=20 if len(ok) > 3 else 0, ha="right" if len(ok) > 3
                       else "center", fontsize="small")

    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
    failed = len(runs) - len(ok)
    if failed:
        title = f"{title + ' ' if title else ''}({failed} failed configuration(s) not shown)"
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _number(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return float("nan")


def _write_amp_without_wal(run: dict[str, Any]) -> float:
    """(flush + compaction bytes) / user bytes: the write amp the cost model predicts."""
    stats = run.get("stats") or {}
    user = stats.get("user_bytes_written")
    written = [stats.get("flush_bytes"), stats.get("compaction_bytes_written")]
    if not isinstance(user, (int, float)) or not user or not all(
            isinstance(w, (int, float)) for w in written):
        return float("nan")
    return sum(written) / user


def _legend(ax) -> None:
    # Outside the axes, on the right: bars of any height stay visible.
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
