"""Scores on the held-out split (runner.train.evaluate): scikit-learn's metric functions, the product's conventions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as m
from sklearn.datasets import load_iris, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from runner.train import evaluate


def binary_case(labels=("no", "yes")):
    X, y = make_classification(n_samples=400, n_features=6, weights=[0.8, 0.2], random_state=3)
    y = np.asarray(labels)[y]
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    model = LogisticRegression().fit(X_tr, y_tr)
    return model, X_te, y_te


def expected_calibration_error(positive, score, bins: int = 10) -> float:
    """sklearn's reliability curve (uniform bins), each bin weighted by its share of the rows."""
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(positive, score, n_bins=bins, strategy="uniform")
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], score), minlength=bins)
    counts = counts[counts > 0]  # calibration_curve leaves out empty bins
    return float(np.sum(counts * np.abs(observed - predicted)) / len(score))


@pytest.mark.parametrize("labels", [("no", "yes"), (0, 1), (3, 7), (False, True)])
def test_binary_scores_are_sklearns_for_the_positive_class(labels) -> None:
    model, X, y = binary_case(labels)
    ev = evaluate.evaluate(model, X, pd.Series(y))
    pos = model.classes_[-1]
    y_pred, score = model.predict(X), model.predict_proba(X)[:, 1]
    metrics = dict(ev.metrics)
    assert metrics.pop("calibration_error") == pytest.approx(expected_calibration_error(y == pos, score), abs=1e-12)
    assert metrics == {
        "accuracy": m.accuracy_score(y, y_pred), "balanced_accuracy": m.balanced_accuracy_score(y, y_pred),
        "precision": m.precision_score(y, y_pred, pos_label=pos), "recall": m.recall_score(y, y_pred, pos_label=pos),
        "f1": m.f1_score(y, y_pred, pos_label=pos), "f1_macro": m.f1_score(y, y_pred, average="macro"),
        "roc_auc": m.roc_auc_score(y, score), "average_precision": m.average_precision_score(y, score, pos_label=pos),
        "brier_score": m.brier_score_loss(y, score, pos_label=pos), "log_loss": m.log_loss(y, model.predict_proba(X)),
    }
    assert ev.report == m.classification_report(y, y_pred, zero_division=0, digits=4)
    np.testing.assert_array_equal(ev.y_pred, y_pred)
    assert 0 < ev.metrics["f1"] < 1  # a real model: neither constant nor perfect


def test_multiclass_scores_are_macro_averages_and_one_vs_rest_auc() -> None:
    X, y = load_iris(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.5, stratify=y, random_state=1)
    model = LogisticRegression(C=0.05).fit(X_tr, y_tr)
    y_pred, proba = model.predict(X_te), model.predict_proba(X_te)
    got = evaluate.scores(y_te, y_pred, proba, model.classes_)
    assert got == {
        "accuracy": m.accuracy_score(y_te, y_pred), "balanced_accuracy": m.balanced_accuracy_score(y_te, y_pred),
        "precision": m.precision_score(y_te, y_pred, average="macro", zero_division=0),
        "recall": m.recall_score(y_te, y_pred, average="macro"), "f1": m.f1_score(y_te, y_pred, average="macro"),
        "f1_macro": m.f1_score(y_te, y_pred, average="macro"),
        "roc_auc": m.roc_auc_score(y_te, proba, multi_class="ovr", average="macro"),
    }
    assert got["accuracy"] < 1


def test_one_metric_alone_is_the_same_number_and_needs_only_its_input() -> None:
    """evaluate.score (the report's permutation-importance scorer) computes one metric of `scores`: label
    metrics from the labels alone, the others from the probabilities alone."""
    from runner.config.schema import LABEL_METRICS

    model, X, y = binary_case()
    X_i, y_i = load_iris(return_X_y=True)
    iris = LogisticRegression(C=0.05).fit(X_i, y_i)
    for est, X_, y_ in ((model, X, y), (iris, X_i, y_i)):
        y_pred, proba, classes = est.predict(X_), est.predict_proba(X_), est.classes_
        everything = evaluate.scores(y_, y_pred, proba, classes)
        assert list(everything) == evaluate.metric_names(y_, classes)
        for name, value in everything.items():
            alone = (evaluate.score(name, y_, y_pred, None, classes) if name in LABEL_METRICS
                     else evaluate.score(name, y_, None, proba, classes))
            assert alone == value, name
    with pytest.raises(ValueError, match="brier_score"):
        evaluate.score("brier_score", y_i, None, iris.predict_proba(X_i), iris.classes_)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_curves_need_every_class_in_the_evaluation_rows() -> None:
    proba = np.array([[0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])
    one_class = evaluate.scores([1, 1, 1], [0, 1, 1], proba, np.array([0, 1]))
    assert "roc_auc" not in one_class and "average_precision" not in one_class
    assert one_class["recall"] == m.recall_score([1, 1, 1], [0, 1, 1])
    three = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    two_of_three = evaluate.scores([0, 1], [0, 1], three, np.array([0, 1, 2]))
    assert "roc_auc" not in two_of_three and two_of_three["accuracy"] == 1.0
    none_predicted = evaluate.scores([0, 1, 1], [0, 0, 0], proba, np.array([0, 1]))
    assert none_predicted["precision"] == 0.0 and none_predicted["f1"] == 0.0  # zero_division=0, no warning value


def test_reliability_curve_is_sklearns_calibration_curve_with_the_bin_counts() -> None:
    from sklearn.calibration import calibration_curve

    model, X, y = binary_case()
    positive, p = y == model.classes_[-1], model.predict_proba(X)[:, 1]
    observed, predicted, counts = evaluate.reliability_curve(positive, p)
    want_observed, want_predicted = calibration_curve(positive, p, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(observed, want_observed, rtol=0, atol=1e-12)
    np.testing.assert_allclose(predicted, want_predicted, rtol=0, atol=1e-12)
    assert counts.sum() == len(p) and len(counts) == 10 and (counts > 0).sum() == len(observed)
