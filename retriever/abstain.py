"""The abstain decision with a reader: the probability that the documents answer.

A logistic model over what the answer path knows of its best quote (the reader's logit,
its margin over the runner-up, the quote's closeness in meaning, its heuristic score, the
rank of its passage, the top search score), fitted by ``python -m eval.train.calibrate`` on
SQuAD 2.0 articles held apart from the reader's training, and kept beside the reader's
weights as ``abstain.json`` with its figures. ``Scoring.min_score`` is the threshold on
this probability.

Example:
    >>> model = AbstainModel(("logit",), (1.0,), 0.0)
    >>> round(model.probability({"logit": 2.0}), 3)
    0.881
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from retriever.errors import BadArgumentError

__all__ = ["AbstainModel", "ABSTAIN_FILE"]

ABSTAIN_FILE = "abstain.json"


@dataclass(frozen=True)
class AbstainModel:
    """``P(answered) = σ(intercept + Σ coef · (feature − mean) / scale)``.

    Attributes:
        features: names of the features read (keys of a quote's features).
        coef: one weight per feature.
        intercept: the bias.
        mean, scale: how each feature is standardised first (default 0 and 1).
        figures: how the model fared where it was fitted (for the card).
    """

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)

    def probability(self, values: dict[str, float]) -> float:
        """The probability that the documents answer, from a quote's ``values``."""
        mean = self.mean or (0.0,) * len(self.features)
        scale = self.scale or (1.0,) * len(self.features)
        z = self.intercept
        for name, c, m, s in zip(self.features, self.coef, mean, scale, strict=True):
            z += c * (values.get(name, 0.0) - m) / (s or 1.0)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def save(self, path: Path) -> None:
        from retriever.durable import write_atomic

        write_atomic(path, json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> AbstainModel:
        """Read ``abstain.json``.

        Raises:
            BadArgumentError: missing or malformed.
        """
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                tuple(d["features"]),
                tuple(float(c) for c in d["coef"]),
                float(d["intercept"]),
                tuple(d.get("mean", ())),
                tuple(d.get("scale", ())),
                dict(d.get("figures", {})),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BadArgumentError(f"no usable abstain model at {path} ({exc})") from None
