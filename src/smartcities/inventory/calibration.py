"""How far the coder's confidences can be taken at their word: reliability tables, expected calibration error and
a reliability diagram.

A value coded with confidence 0.8 should be right about 80 % of the time. The held-out predictions (each paired
with its confidence and whether it was right) are put into `BINS` equal-width confidence bins; for each bin the
table gives the number of values, their mean confidence and the share that were right. The expected calibration
error (ECE) is the mean over bins of |accuracy − mean confidence|, weighted by the bin's share of the values: 0 for
a perfectly calibrated coder.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

BINS = 10


def reliability(confidence: Sequence[float], correct: Sequence[bool], bins: int = BINS) -> dict:
    """The reliability table of values coded with `confidence` (in [0, 1]) that were `correct` or not: `rows`,
    `accuracy`, `mean_confidence`, `ece` and `bins` (the non-empty ones: `low`, `high`, `count`,
    `mean_confidence`, `accuracy`). A confidence of exactly 1 falls in the last bin."""
    conf = np.asarray(confidence, dtype=float)
    right = np.asarray(correct, dtype=bool)
    if conf.shape != right.shape:
        raise ValueError(f"{len(conf)} confidences for {len(right)} outcomes")
    if len(conf) and (np.isnan(conf).any() or conf.min() < 0 or conf.max() > 1):
        raise ValueError("confidences must lie in [0, 1]")
    index = np.minimum((conf * bins).astype(int), bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        inside = index == b
        n = int(inside.sum())
        if not n:
            continue
        mean_conf, accuracy = float(conf[inside].mean()), float(right[inside].mean())
        ece += n / len(conf) * abs(accuracy - mean_conf)
        table.append({"low": b / bins, "high": (b + 1) / bins, "count": n, "mean_confidence": mean_conf,
                      "accuracy": accuracy})
    return {"rows": int(len(conf)), "accuracy": float(right.mean()) if len(conf) else float("nan"),
            "mean_confidence": float(conf.mean()) if len(conf) else float("nan"), "ece": ece, "bins": table}


def reliability_svg(series: dict[str, dict], title: str, size: int = 360) -> str:
    """A reliability diagram (SVG text): for each named reliability table of `series`, accuracy against mean
    confidence per bin, one point per bin with an area that grows with its count, joined by a line; the diagonal
    is perfect calibration."""
    pad, colours = 48, ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
    side = size - 2 * pad

    def x(v: float) -> float:
        return pad + v * side

    def y(v: float) -> float:
        return size - pad - v * side

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size + 20 * len(series)}" '
             f'viewBox="0 0 {size} {size + 20 * len(series)}" font-family="sans-serif" font-size="11">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="{size / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>',
             f'<rect x="{pad}" y="{pad}" width="{side}" height="{side}" fill="none" stroke="#999"/>',
             f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#999" stroke-dasharray="4 3"/>']
    for tick in np.linspace(0, 1, 6):
        parts += [f'<text x="{x(tick):.1f}" y="{size - pad + 14}" text-anchor="middle">{tick:.1f}</text>',
                  f'<text x="{pad - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.1f}</text>']
    parts += [f'<text x="{size / 2}" y="{size - 12}" text-anchor="middle">mean confidence</text>',
              f'<text x="14" y="{size / 2}" text-anchor="middle" transform="rotate(-90 14 {size / 2})">'
              'share right</text>']
    for table, colour in zip(series.values(), colours):
        points = [(x(b["mean_confidence"]), y(b["accuracy"]), b["count"]) for b in table["bins"]]
        largest = max((n for *_, n in points), default=1)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="'
                     + " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points) + '"/>')
        parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{2 + 6 * (n / largest) ** 0.5:.1f}" fill="{colour}" '
                  f'fill-opacity="0.6"><title>{n} values</title></circle>' for px, py, n in points]
    for i, ((name, table), colour) in enumerate(zip(series.items(), colours)):
        top = size + 20 * i
        parts += [f'<rect x="{pad}" y="{top - 9}" width="10" height="10" fill="{colour}"/>',
                  f'<text x="{pad + 16}" y="{top}">{escape(name)}: {table["rows"]} values, ECE '
                  f'{table["ece"]:.3f}</text>']
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
