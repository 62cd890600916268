"""A trained logistic model read from a JSON file with numpy: the sentence ranker and the
short-answer scorer ship this way, so answering needs no scikit-learn (which trains them, in
benchmarks/) and loads nothing but a few numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files

import numpy as np


@dataclass(frozen=True)
class Model:
    """Standardisation and logistic-regression weights, one per feature, and a calibration of the
    score into a probability (Platt scaling: `slope` and `intercept` on the logit; 1 and 0 when
    the regression's own probability is used)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    slope: float = 1.0
    intercept: float = 0.0

    def probability(self, rows: np.ndarray) -> np.ndarray:
        z = ((rows - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-(self.slope * z + self.intercept)))

    def to_json(self, features: tuple[str, ...], **about) -> str:
        return json.dumps({
            "features": list(features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
            "weights": self.weights.tolist(), "bias": self.bias, "slope": self.slope, "intercept": self.intercept,
            **about,
        }, indent=1)

    @classmethod
    def from_dict(cls, data: dict) -> Model:
        return cls(np.array(data["mean"]), np.array(data["scale"]), np.array(data["weights"]), float(data["bias"]),
                   float(data.get("slope", 1.0)), float(data.get("intercept", 0.0)))


def shipped(name: str, features: tuple[str, ...], package: str = "rag.answer") -> dict | None:
    """The JSON of model file `name` in `package`, or None when it is missing, unreadable or was
    trained on other features than `features`."""
    try:
        data = json.loads((files(package) / name).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(data, dict) or tuple(data.get("features", ())) != features:
        return None
    return data


__all__ = ["Model", "shipped"]
