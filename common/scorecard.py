"""The book's scorecard, and what follows from it: accuracy, per-digit accuracy, confusion matrix."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Scorecard:
    """One entry per test image: 1 where the network's answer matches the label, else 0.

    Build it with :meth:`from_outputs`; both backends' outputs go through the same code.

    Attributes
    ----------
    labels : ndarray of shape (n,)
        The correct digits.
    predictions : ndarray of shape (n,)
        The network's answers, ``argmax`` of its outputs.
    n_classes : int
        Number of classes (10 for MNIST).
    """

    labels: np.ndarray
    predictions: np.ndarray
    n_classes: int = 10
    scores: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels, dtype=np.int64).ravel()
        predictions = np.asarray(self.predictions, dtype=np.int64).ravel()
        if labels.shape != predictions.shape:
            raise ValueError(
                f"{labels.size} labels but {predictions.size} predictions: they must match."
            )
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "predictions", predictions)
        # The book: scorecard.append(1 if label == correct_label else 0)
        object.__setattr__(self, "scores", (labels == predictions).astype(np.int64))

    @classmethod
    def from_outputs(cls, outputs: np.ndarray, labels: np.ndarray) -> "Scorecard":
        """Score network outputs of shape ``(n, n_classes)`` against ``labels`` of shape ``(n,)``."""
        outputs = np.asarray(outputs)
        if outputs.ndim == 1:
            outputs = outputs[None, :]
        return cls(labels=labels, predictions=np.argmax(outputs, axis=1), n_classes=outputs.shape[1])

    @property
    def accuracy(self) -> float:
        """Fraction of the scorecard that is 1 (the book's "performance")."""
        return float(self.scores.mean()) if self.scores.size else float("nan")

    @property
    def per_digit_accuracy(self) -> np.ndarray:
        """Accuracy on the images of each digit, shape ``(n_classes,)``; nan for an absent digit."""
        totals = np.bincount(self.labels, minlength=self.n_classes)
        correct = np.bincount(self.labels, weights=self.scores, minlength=self.n_classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            return correct / totals

    @property
    def confusion_matrix(self) -> np.ndarray:
        """Counts of shape ``(n_classes, n_classes)``: row = true digit, column = the answer."""
        matrix = np.zeros((self.n_classes, self.n_classes), dtype=np.int64)
        np.add.at(matrix, (self.labels, self.predictions), 1)
        return matrix

    def __len__(self) -> int:
        return int(self.scores.size)

    def summary(self) -> str:
        """A few lines for a terminal: accuracy, then accuracy per digit."""
        digits = "  ".join(f"{d}:{a:6.1%}" for d, a in enumerate(self.per_digit_accuracy))
        return (
            f"accuracy {self.accuracy:.2%} ({int(self.scores.sum())} of {len(self)})\n"
            f"per digit {digits}"
        )
