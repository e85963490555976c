"""A leaderboard's renderings (runner.sweep.render): summary.csv, summary.md, comparison.png and the terminal table."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from rich.console import Console

from runner.sweep import render
from runner.sweep.leaderboard import Row


def rows() -> list[Row]:
    """Three ranked jobs sharing `dataset.n_samples=500`, one reused, one failed with a reason holding a '|'."""
    def metrics(f1: float) -> dict[str, float]:
        return {"f1": f1, "roc_auc": f1 + 0.05, "accuracy": f1 + 0.1, "precision": f1, "recall": f1,
                "balanced_accuracy": f1, "average_precision": f1 - 0.05}

    return [
        Row("1", "a" * 32, "rf", "smotetomek", "synthetic", "model.max_depth=4 dataset.n_samples=500", "FINISHED",
            fit_seconds=1.23456, metrics=metrics(0.91234), intervals={"f1": (0.85, 0.95)}),
        Row("0", "b" * 32, "logreg", "none", "synthetic", "dataset.n_samples=500", "FINISHED", reused=True,
            fit_seconds=0.5, metrics=metrics(0.8)),
        Row("2", "c" * 32, "xgb", "none", "synthetic", "model.max_depth=-1 dataset.n_samples=500", "FAILED",
            reason="model.max_depth=-1: must be | an integer >= 0"),
    ]


def test_the_csv_holds_every_column_of_every_row(tmp_path: Path) -> None:
    path = render.write_csv(rows(), "f1", tmp_path / "summary.csv")
    with open(path) as fh:
        got = list(csv.DictReader(fh))
    assert list(got[0]) == render.columns("f1")
    assert [r["rank"] for r in got] == ["1", "2", "3"] and [r["job"] for r in got] == ["1", "0", "2"]
    first = got[0]
    assert (first["f1"], first["roc_auc"], first["fit_seconds"], first["status"]) == ("0.9123", "0.9623", "1.235", "FINISHED")
    assert (first["f1_ci_low"], first["f1_ci_high"]) == ("0.8500", "0.9500")
    assert first["overrides"] == "model.max_depth=4 dataset.n_samples=500"  # the files keep every override
    assert got[1]["status"] == "REUSED" and got[1]["f1_ci_low"] == ""
    assert got[2]["f1"] == "" and got[2]["fit_seconds"] == "" and got[2]["reason"] == "model.max_depth=-1: must be | an integer >= 0"
    assert got[2]["run_id"] == "c" * 32


def test_the_markdown_says_the_shared_overrides_once_and_escapes_pipes(tmp_path: Path) -> None:
    md = render.write_markdown(rows(), "f1", tmp_path / "summary.md", "sweep x: 3 jobs by f1").read_text()
    lines = md.splitlines()
    assert lines[:4] == ["# sweep x: 3 jobs by f1", "", "Sorted by `f1` (best first).",
                         "Overrides of all jobs: `dataset.n_samples=500`."]
    table = [line for line in lines if line.startswith("| ")]
    assert table[0] == "| " + " | ".join(render.columns("f1")) + " |" and len(table) == 4
    assert "| model.max_depth=4 |" in table[1] and "must be \\| an integer" in table[3]
    assert md.count("| REUSED |") == 1 and md.count("| FAILED |") == 1


@pytest.mark.parametrize("width", [80, 120, 200])
def test_the_terminal_table_fits_its_width_and_lists_failures_below(width: int) -> None:
    text = io.StringIO()
    render.print_table(rows(), "f1", "sweep x: 3 jobs by f1", out=Console(file=text, width=width, highlight=False))
    out = text.getvalue()
    lines = out.splitlines()
    assert all(len(line) <= width for line in lines), out
    assert "all jobs: dataset.n_samples=500" in out and "model.max_depth=4" in out
    assert lines[-1] == "job 2 FAILED (run cccccccc): model.max_depth=-1: must be | an integer >= 0"
    assert "0.912" in out and "REUSED" in out
    assert ("aaaaaaaa" in out) == (width >= 200)  # the run id is the first column a narrow terminal drops


def test_the_chart_is_drawn_also_without_any_finished_job(tmp_path: Path) -> None:
    files = render.write_all(rows(), "f1", tmp_path / "out", "sweep x")
    assert [p.name for p in files] == ["summary.csv", "summary.md", "comparison.png"]
    failed = rows()[2:]
    png = render.write_chart(failed, "f1", tmp_path / "none.png", "nothing")
    assert png.read_bytes().startswith(b"\x89PNG") and files[2].stat().st_size > png.stat().st_size


def test_records_without_common_overrides_keep_each_rows_own() -> None:
    recs = render.records(rows(), "roc_auc")
    assert [r["overrides"] for r in recs][0] == "model.max_depth=4 dataset.n_samples=500"
    shared = render.records(rows(), "roc_auc", ["dataset.n_samples=500"])
    assert [r["overrides"] for r in shared] == ["model.max_depth=4", "", "model.max_depth=-1"]
    assert list(recs[0])[:6] == ["rank", "job", "model", "sampler", "overrides", "roc_auc"]


def many_rows(n: int = 300) -> list[Row]:
    """A long, varied board: overrides long enough to fold, a few marks and p-values, failures, a reused job,
    a model name holding markup-like brackets and wide (CJK) characters."""
    import math
    import random

    rnd = random.Random(7)
    out = []
    for i in range(n):
        f1 = rnd.uniform(0.2, 0.9)
        words = " ".join(f"model.param_{k}={rnd.choice(['1', '0.001', 'a-very-long-value-' * rnd.randint(1, 3)])}"
                         for k in range(rnd.randint(0, 6)))
        status = "FAILED" if i % 37 == 5 else "FINISHED"
        out.append(Row(str(i), f"{i:032x}", rnd.choice(["logreg", "rf", "[bold]x[/bold]", "木模型"]), "none", "d",
                       words, status, reused=i % 11 == 3, reason="bad | value" if status == "FAILED" else "",
                       fit_seconds=rnd.uniform(0, 100), intervals={"f1": (f1 - 0.1, f1 + 0.1)} if i % 3 else {},
                       metrics={} if status == "FAILED" else {"f1": f1, "roc_auc": f1 + 0.05, "accuracy": 0.5},
                       vs_best=rnd.choice(["tied", "worse", "n/c", "-"]) if i else "best",
                       p_adjusted=rnd.choice([math.nan, 0.0004, 0.5, 1.0]) if i else math.nan))
    return out


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120, 160, 250])
@pytest.mark.parametrize("color", [False, True])
def test_column_widths_measured_on_a_few_rows_draw_the_table_rich_would(width: int, color: bool) -> None:
    board = many_rows()

    def drawn(fixed: bool) -> str:
        text = io.StringIO()
        out = Console(file=text, width=width, highlight=False, force_terminal=color, color_system="truecolor")
        table = render.terminal_table(board, "f1", "experiment x: 300 runs by f1", out, fixed_widths=fixed)
        if fixed and width >= 80:  # the widths really were fixed beforehand (the rest is rich measuring nothing)
            assert all(c.width is not None for c in table.columns)
        out.print(table)
        return text.getvalue()

    ours, richs = drawn(True), drawn(False)
    assert ours == richs
    if width >= 100:
        assert "a-very-long-value-" in ours and len(ours.splitlines()) > len(board)  # some overrides folded
