"""Figures of one evaluation (runner.train.plots): a confusion matrix always, curves for binary data."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.datasets import load_iris, make_classification
from sklearn.linear_model import LogisticRegression

from runner.train import evaluate, plots

PNG = b"\x89PNG\r\n\x1a\n"


def test_binary_data_get_the_roc_and_precision_recall_curves(tmp_path: Path) -> None:
    X, y = make_classification(n_samples=200, random_state=0)
    ev = evaluate.evaluate(LogisticRegression().fit(X, y), X, pd.Series(y))
    written = plots.write(ev, pd.Series(y), tmp_path / "plots", "logreg+none")
    assert [p.name for p in written] == ["confusion_matrix.png", "roc_curve.png", "precision_recall_curve.png",
                                         "reliability.png"]
    assert all(p.read_bytes().startswith(PNG) and p.stat().st_size > 5_000 for p in written)


def test_multiclass_data_and_a_single_class_batch_get_the_confusion_matrix_only(tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True)
    ev = evaluate.evaluate(LogisticRegression(max_iter=500).fit(X, y), X, pd.Series(y))
    assert [p.name for p in plots.write(ev, pd.Series(y), tmp_path / "iris", "iris")] == ["confusion_matrix.png"]
    X2, y2 = make_classification(n_samples=100, random_state=1)
    model = LogisticRegression().fit(X2, y2)
    ones = y2 == 1
    ev = evaluate.evaluate(model, X2[ones], pd.Series(y2[ones]))
    assert [p.name for p in plots.write(ev, pd.Series(y2[ones]), tmp_path / "ones", "t")] == ["confusion_matrix.png"]
