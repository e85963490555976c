"""Figures of one evaluation, written as PNG files (matplotlib's Agg backend, no screen)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from runner.train.evaluate import Evaluation

DPI = 80
MARGINS = {"left": 0.17, "right": 0.96, "bottom": 0.12, "top": 0.92}  # fit the labels of a 4.5 x 4 in figure


def write(ev: Evaluation, y_test: pd.Series, folder: Path, title: str) -> list[Path]:
    """Confusion matrix always; ROC and precision-recall curves for binary data."""
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
    ax.set_title(f"confusion matrix: {title}", fontsize=9)
    save(fig, "confusion_matrix.png")
    if len(ev.classes) == 2 and y_test.nunique() == 2:
        pos = ev.classes[-1]
        fig, ax = plt.subplots(figsize=(4.5, 4))
        RocCurveDisplay.from_predictions(y_test, ev.proba[:, 1], pos_label=pos, ax=ax, plot_chance_level=True)
        ax.set_title(f"ROC: {title}", fontsize=9)
        save(fig, "roc_curve.png")
        fig, ax = plt.subplots(figsize=(4.5, 4))
        PrecisionRecallDisplay.from_predictions(y_test, ev.proba[:, 1], pos_label=pos, ax=ax, plot_chance_level=True)
        ax.set_title(f"precision-recall: {title}", fontsize=9)
        save(fig, "precision_recall_curve.png")
    return written
