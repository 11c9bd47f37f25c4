"""``--plot out.png``: write, read and space amplification and throughput per configuration.

Four panels sharing the x axis (one position per configuration label): write amplification
(engine counters, with the kernel's write bytes as a second bar when known), read
amplification (tables probed per point lookup, and data blocks per lookup), space
amplification (exact: SSTable bytes / live bytes), and throughput of each workload (grouped
bars, ops/s). Rendered with matplotlib's Agg backend, so no display is needed.
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
        return [float(s[key]) if isinstance(s.get(key), (int, float)) else float("nan")
                for s in summary]

    fig, axes = plt.subplots(4, 1, figsize=(max(9.0, 1.1 * len(ok) + 6), 12), sharex=True)
    width = 0.38

    ax = axes[0]
    ax.bar([x - width / 2 for x in xs], series("write_amp"), width, label="engine counters")
    ax.bar([x + width / 2 for x in xs], series("io_write_amp"), width, label="kernel write bytes")
    ax.set_ylabel("write amp")
    ax.set_title("write amplification (bytes written / user bytes)")
    _legend(ax)

    ax = axes[1]
    ax.bar([x - width / 2 for x in xs], series("read_amp"), width, label="tables probed / get")
    ax.bar([x + width / 2 for x in xs], series("blocks_per_lookup"), width,
           label="data blocks / get")
    ax.set_ylabel("read amp")
    ax.set_title("read amplification (point lookups)")
    _legend(ax)

    ax = axes[2]
    ax.bar(xs, series("space_amp"), 0.6, color="tab:green")
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_ylabel("space amp")
    ax.set_title("space amplification (SSTable bytes / live bytes)")

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


def _legend(ax) -> None:
    # Outside the axes, on the right: bars of any height stay visible.
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
