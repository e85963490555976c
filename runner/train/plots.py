"""Figures of one evaluation, written as PNG files (matplotlib's Agg backend, no screen)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runner.train.evaluate import Evaluation, calibration_bins, calibration_error

DPI = 80
MARGINS = {"left": 0.17, "right": 0.96, "bottom": 0.12, "top": 0.92}  # fit the labels of a 4.5 x 4 in figure


def write(ev: Evaluation, y_test: pd.Series, folder: Path, title: str) -> list[Path]:
    """Confusion matrix always; ROC, precision-recall and reliability curves for binary data."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig: plt.Figure, name: str) -> None:
        # Fixed margins instead of tight_layout: tight_layout draws the figure once more to measure
        # it, and leaves a layout engine that makes savefig draw it yet again (3 draws -> 1).
        path = folder / name
        fig.subplots_adjust(**MARGINS)
        fig.set_layout_engine("none")
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        written.append(path)

    fig, ax = plt.subplots(figsize=(4.5, 4))
    ConfusionMatrixDisplay.from_predictions(y_test, ev.y_pred, labels=ev.classes, ax=ax, colorbar=False)
    ax.set_title(f"confusion matrix: {title}", fontsize=9, y=1.0)
    save(fig, "confusion_matrix.png")
    if len(ev.classes) == 2 and y_test.nunique() == 2:
        pos = ev.classes[-1]
        fig, ax = plt.subplots(figsize=(4.5, 4))
        RocCurveDisplay.from_predictions(y_test, ev.proba[:, 1], pos_label=pos, ax=ax, plot_chance_level=True)
        ax.set_title(f"ROC: {title}", fontsize=9, y=1.0)
        save(fig, "roc_curve.png")
        fig, ax = plt.subplots(figsize=(4.5, 4))
        PrecisionRecallDisplay.from_predictions(y_test, ev.proba[:, 1], pos_label=pos, ax=ax, plot_chance_level=True)
        ax.set_title(f"precision-recall: {title}", fontsize=9, y=1.0)
        save(fig, "precision_recall_curve.png")
        fig, ax = plt.subplots(figsize=(4.5, 4))
        reliability(ax, np.asarray(y_test) == pos, ev.proba[:, 1], str(pos))
        ax.set_title(f"reliability: {title}", fontsize=9, y=1.0)
        save(fig, "reliability.png")
    return written


def reliability(ax: Any, positive: np.ndarray, p: np.ndarray, label: str) -> None:
    """Observed share of positives against the mean predicted probability in each of the equal-width
    bins of `calibration_error` (the diagonal is perfect calibration); bin sizes as a histogram below."""
    ids = calibration_bins(p)
    total = np.bincount(ids, minlength=10)
    filled = total > 0
    observed = np.bincount(ids, weights=positive.astype(float), minlength=10)[filled] / total[filled]
    predicted = np.bincount(ids, weights=p, minlength=10)[filled] / total[filled]
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfectly calibrated")
    ax.plot(predicted, observed, marker="o", label=f"model (ECE {calibration_error(positive, p):.3f})")
    ax.bar((np.arange(10) + 0.5) / 10, total / max(1, total.sum()), width=0.1, alpha=0.2, color="grey",
           label="share of rows")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"mean predicted probability of {label}", fontsize=8)
    ax.set_ylabel(f"observed share of {label}", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")
