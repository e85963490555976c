"""A monitoring check's renderings (runner.serve.monitor_report): terminal tables, report.md, report.json, drift.png."""
from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from runner.serve import monitor_report as report
from runner.serve.drift import Degradation, Drift, Result
from runner.train import profile

LIMITS = {"psi": 0.2, "pvalue": 0.01, "ks_statistic": 0.1, "max_drop": 0.1, "metrics": None, "min_rows": 30, "worst": 2}


def result() -> tuple[Result, dict, pd.DataFrame]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300), "c": rng.choice(["u", "v"], 300)})
    ref = {"features": {c: profile.summary(X[c]) for c in X.columns}}
    drift = [Drift("a", "feature", 0.9, 0.05, 0.4, 1e-9, 0.0, 1.2, True), Drift("b", "feature", 0.01, 0.05, 0.02, 1.0),
             Drift("c", "feature", 0.0), Drift("proba[yes]", "prediction", 0.3, 0.05, 0.2, 0.0001, 0.2, 0.5, True)]
    metrics = [Degradation("f1", 0.8, 0.55, True, True), Degradation("accuracy", 0.9, 0.91, False, False)]
    return Result(drift, metrics, n_rows=300, ignored=["id"]), ref, X.assign(a=X["a"] + 1.2)


def test_numbers_are_formatted_for_reading() -> None:
    assert (report._f(math.nan), report._f(0.1234567), report._f(0.00001), report._f(0.0), report._f(2.5, 1)) == (
        "-", "0.123", "1.0e-05", "0.000", "2.5")


def test_rows_of_the_tables() -> None:
    res, _, _ = result()
    assert report.drift_rows(res)[0] == ["a", "feature", "0.900", "0.050", "0.400", "1.0e-09", "0.000", "1.200", "DRIFT"]
    assert report.drift_rows(res)[2] == ["c", "feature", "0.000", "-", "-", "-", "-", "-", ""]
    assert report.metric_rows(res) == [["f1 *", "0.8000", "0.5500", "-0.2500", "DEGRADED"],
                                       ["accuracy", "0.9000", "0.9100", "+0.0100", ""]]


def test_the_report_files(tmp_path: Path) -> None:
    res, ref, X = result()
    champion = SimpleNamespace(name="churn-classifier", version="3", uri="models:/churn-classifier/3", run_id="r" * 32)
    files = report.write_report(tmp_path / "out", res, champion, ref, X, Path("/data/batch.csv"), LIMITS,
                                "python run.py dataset=csv ...")
    assert [p.name for p in files] == ["report.md", "drift.png", "report.json"]
    md = files[0].read_text()
    assert md.startswith("# Monitoring churn-classifier version 3\n")
    assert "- batch: `/data/batch.csv` (300 rows); ignored columns: id" in md and "- status: **drift+degraded**" in md
    assert "| a | feature | 0.900 |" in md and "| f1 * | 0.8000 | 0.5500 | -0.2500 | DEGRADED |" in md
    assert md.rstrip().endswith("```bash\npython run.py dataset=csv ...\n```")
    assert files[1].read_bytes().startswith(b"\x89PNG")
    data = json.loads(files[2].read_text())
    assert data["status"] == "drift+degraded" and data["rows"] == 300 and data["retrain"] == "python run.py dataset=csv ..."
    assert data["drift"][2]["psi_noise"] is None  # NaN is null in JSON
    quiet = report.write_report(tmp_path / "ok", Result(res.drift[1:3]), champion, ref, X, Path("b.csv"), LIMITS, None)
    assert "Retrain" not in quiet[0].read_text() and "Metrics on the labelled batch" not in quiet[0].read_text()


def test_the_terminal_tables(capsys) -> None:
    res, _, _ = result()
    report.print_tables(res, "churn-classifier v3 on batch.csv (300 rows): drift+degraded", LIMITS)
    out = capsys.readouterr().out
    assert "churn-classifier v3 on batch.csv" in out and "proba[yes]" in out  # brackets are not rich markup
    assert out.count("DRIFT") == 2 and "DEGRADED" in out and "metrics on the labelled batch" in out
