"""Figures of one evaluation, written as PNG files (matplotlib's Agg backend, no screen)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runner.train.evaluate import Evaluation, calibration_error, reliability_curve

DPI = 80
MARGINS = {"left": 0.17, "right": 0.96, "bottom": 0.12, "top": 0.92}  # fit the labels of a 4.5 x 4 in figure
FAST_TEXT: dict[Any, Any] = {"text.hinting": "no_hinting"}  # glyphs drawn without FreeType's hinting: most of a figure is its text


def write(ev: Evaluation, y_test: pd.Series, folder: Path, title: str) -> list[Path]:
    """Confusion matrix always; ROC, precision-recall and reliability curves for binary data.

    The three curves share one figure, cleared between them: all three sit on [0, 1] x [0, 1], so the axes
    and their tick labels (most of a small figure's cost) are built once instead of three times.
    """
    from matplotlib import rc_context
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig: Any, name: str) -> None:
        path = folder / name
        with rc_context(FAST_TEXT):
            fig.savefig(path, dpi=DPI, pil_kwargs={"compress_level": 1})
        written.append(path)

    fig, ax = _figure()
    ConfusionMatrixDisplay.from_predictions(y_test, ev.y_pred, labels=ev.classes, ax=ax, colorbar=False)
    ax.set_title(f"confusion matrix: {title}", fontsize=9, y=1.0)
    save(fig, "confusion_matrix.png")
    if len(ev.classes) == 2 and y_test.nunique() == 2:
        pos = ev.classes[-1]
        positive = np.asarray(y_test) == pos
        curves = (
            ("roc_curve.png", "ROC", lambda ax: RocCurveDisplay.from_predictions(
                y_test, ev.proba[:, 1], pos_label=pos, ax=ax, plot_chance_level=True)),
            ("precision_recall_curve.png", "precision-recall", lambda ax: PrecisionRecallDisplay.from_predictions(
                y_test, ev.proba[:, 1], pos_label=pos, ax=ax, plot_chance_level=True)),
            ("reliability.png", "reliability", lambda ax: reliability(ax, positive, ev.proba[:, 1], str(pos))),
        )
        fig, ax = _figure()
        for name, what, draw in curves:
            _clear(ax)
            draw(ax)
            ax.set_title(f"{what}: {title}", fontsize=9, y=1.0)
            save(fig, name)
    return written


def _figure() -> tuple[Any, Any]:
    """A 4.5 x 4 in Agg figure with one axes and fixed margins, outside pyplot (no figure manager to close).

    Fixed margins instead of tight_layout: tight_layout draws the figure once more to measure it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.5, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fig.subplots_adjust(**MARGINS)
    return fig, ax


def _clear(ax: Any) -> None:
    """What a previous curve drew (lines, bars, fills, legend, labels), keeping the axes and their ticks."""
    for artist in [*ax.lines, *ax.patches, *ax.collections, *ax.texts]:
        artist.remove()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    ax.set_prop_cycle(None)  # each curve starts at the first colour, as on a fresh axes
    ax.set_xlabel("")
    ax.set_ylabel("")


def reliability(ax: Any, positive: np.ndarray, p: np.ndarray, label: str) -> None:
    """Observed share of positives against the mean predicted probability in each of the equal-width
    bins of `calibration_error` (the diagonal is perfect calibration); bin sizes as a histogram below."""
    observed, predicted, total = reliability_curve(positive, p)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfectly calibrated")
    ax.plot(predicted, observed, marker="o", label=f"model (ECE {calibration_error(positive, p):.3f})")
    ax.bar((np.arange(len(total)) + 0.5) / len(total), total / max(1, total.sum()), width=1 / len(total), alpha=0.2,
           color="grey", label="share of rows")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"mean predicted probability of {label}", fontsize=8)
    ax.set_ylabel(f"observed share of {label}", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")
