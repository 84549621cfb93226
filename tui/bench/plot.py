"""Instances over time as a PNG (matplotlib, no display)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["plot_instances"]

Series = Sequence[tuple[float, int, int]]  # (seconds since the burst, desired, ready)


def plot_instances(
    series: Mapping[str, Series], path: Path, title: str, burst_end_s: float | None = None
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for i, (name, points) in enumerate(sorted(series.items())):
        if not points or max(max(d, r) for _, d, r in points) == 0:
            continue
        color = f"C{i}"
        xs = [p[0] for p in points]
        ax.step(xs, [p[2] for p in points], where="post", color=color, label=f"{name} ready")
        ax.step(xs, [p[1] for p in points], where="post", color=color, linestyle="--", alpha=0.7,
                label=f"{name} desired")  # fmt: skip
    if burst_end_s is not None:
        ax.axvline(burst_end_s, color="grey", linestyle=":", label="burst ends")
    ax.set_xlabel("seconds since the burst started")
    ax.set_ylabel("instances")
    ax.set_title(title)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
