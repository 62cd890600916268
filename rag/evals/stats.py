"""The small statistics and number formatting shared by the evaluation and the benchmark."""

from __future__ import annotations

import numpy as np


def mean(values: list[float] | list[bool]) -> float | None:
    """The mean, or `None` for no values; of booleans, the share that are true."""
    return float(np.mean(values)) if values else None


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (numpy's linear interpolation), or `None` for no values."""
    return float(np.percentile(values, q)) if values else None


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion `hits / n` (95% for z = 1.96), or `None` for n = 0:
    how far a share measured on few questions may be from the true one (28 shown answers, 19
    right: 49-83%)."""
    if n <= 0:
        return None
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def reliability(confidences: list[float], right: list[bool], edges: tuple[float, ...] = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
                ) -> tuple[list[dict], float | None]:
    """Calibration of stated confidences: per bin of confidence (`edges`, the last bin closed),
    how many, their mean confidence and how often right; and the expected calibration error, the
    bins' |confidence - right| weighted by their share of all (None for no values)."""
    bins = []
    n = len(confidences)
    ece = 0.0
    for i, (lo, hi) in enumerate(zip(edges, edges[1:])):
        last = i == len(edges) - 2
        inside = [(c, r) for c, r in zip(confidences, right) if lo <= c < hi or (last and c == hi)]
        if not inside:
            continue
        conf = float(np.mean([c for c, _ in inside]))
        hits = float(np.mean([r for _, r in inside]))
        bins.append({"low": lo, "high": hi, "count": len(inside), "confidence": conf, "right": hits})
        ece += len(inside) / n * abs(conf - hits)
    return bins, (ece if n else None)


def fmt(value: float | None, kind: str, digits: int = 0) -> str:
    """A number as a table cell: "-" for `None`; kind "pct" a share as a percentage with `digits`
    decimals, "score" two decimals, any other ("n", "ms") a whole number."""
    if value is None:
        return "-"
    if kind == "pct":
        return f"{100 * value:.{digits}f}%"
    if kind == "score":
        return f"{value:.2f}"
    return f"{value:.0f}"
