"""Which jobs of a leaderboard are tied with the best: paired tests on the rows they share, Holm-corrected.

A gap between two held-out scores means little without its spread, and two jobs scored on different rows
cannot be compared at all (each may have trained on rows the other was scored on). So each finished job
is compared with the best (the first finished row of the ranked leaderboard) only when both were scored
on the same rows:

* `eval=holdout`: the same data (`runner.data_digest`), `dataset.test_size` and `dataset.random_state`,
  checked on the logged `predictions/holdout.parquet` row sets; the test is the paired stratified
  bootstrap of the metric difference (best - job) on those rows;
* `eval=cv`: also the same `seed`, `eval.folds` and `eval.repeats` (the same folds); the test is the
  corrected resampled t-test (Nadeau & Bengio) of the per-fold differences (`cv_<metric>` by fold).

The one-sided p-values ("the best is better than this job") are adjusted with Holm's step-down
correction over the jobs compared. Marks: `best`; `tied` (adjusted p >= alpha: not significantly worse);
`worse`; `n/c` (scored on other rows, or another kind of evaluation); `-` (not recorded: a run logged
before its predictions or its data digest were); nothing for failed and killed jobs.
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.sweep.leaderboard import Row
from runner.track.predictions import quiet_downloads

if TYPE_CHECKING:
    import numpy as np
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

ALPHA = 0.05
N_RESAMPLES = 1000  # the paired bootstrap's resamples (eval.bootstrap's default)
SEED = 0            # its seed: the same marks every time a leaderboard is rebuilt
LOAD_CHUNK = 100    # predictions read at once (a long leaderboard's frames are never all in memory)

BEST, TIED, WORSE, NOT_COMPARABLE, NOT_RECORDED = "best", "tied", "worse", "n/c", "-"

BOOTSTRAP = "paired bootstrap"
CORRECTED_T = "corrected resampled t-test"


@dataclass(frozen=True)
class Verdict:
    """How a leaderboard's marks were decided (what its note says under the table)."""

    metric: str
    kind: str | None = None  # the best job's evaluation (holdout | cv); None: no finished job
    test: str | None = None  # BOOTSTRAP | CORRECTED_T; None: no job compared
    compared: int = 0        # jobs tested against the best: Holm's family
    n_rows: int = 0          # held-out rows the bootstrap resampled (holdout)
    folds: str = ""          # "5x2" (cv)
    alpha: float = ALPHA
    n_resamples: int = N_RESAMPLES


def scored_on(row: Row) -> tuple[str, ...] | None:
    """What decides the rows a job was scored on; None when its run does not record it."""
    p = row.params
    wanted = ["dataset.test_size", "dataset.random_state"] + (["seed", "eval.folds", "eval.repeats"]
                                                             if row.eval_kind == "cv" else [])
    values = [p.get(k) for k in wanted]
    if not row.data_digest or any(v is None for v in values):
        return None
    if p["dataset.random_state"] == "null":  # a split drawn at random: scored on its own rows
        return (row.eval_kind, row.run_id)
    return (row.eval_kind, row.data_digest, *(str(v) for v in values))


def mark(client: MlflowClient, rows: list[Row], metric: str, alpha: float = ALPHA,
         n_resamples: int = N_RESAMPLES, seed: int = SEED) -> Verdict:
    """Set `vs_best` and `p_adjusted` of every row (ranked best first, leaderboard.sort) against the best.

    Reads only the runs of the jobs compared with the best (their predictions or fold scores), so a long
    leaderboard of other data costs nothing.
    """
    from runner.train.uncertainty import holm

    for r in rows:
        r.vs_best, r.p_adjusted = "", math.nan
    scored = [r for r in rows if r.scored and not math.isnan(r.rank_value(metric))]
    if not scored:
        return Verdict(metric, alpha=alpha, n_resamples=n_resamples)
    best, others = scored[0], scored[1:]
    best.vs_best = BEST
    key = scored_on(best)
    candidates = []
    for r in others:
        theirs = scored_on(r)
        if r.eval_kind != best.eval_kind or (key is not None and theirs is not None and theirs != key):
            r.vs_best = NOT_COMPARABLE
        elif key is None or theirs is None:
            r.vs_best = NOT_RECORDED
        else:
            candidates.append(r)
    if best.eval_kind == "cv":
        tested, verdict = _cv_tests(client, best, candidates, metric, alpha, n_resamples)
    else:
        with quiet_downloads():
            tested, verdict = _holdout_tests(client, best, candidates, metric, alpha, n_resamples, seed)
    if tested:
        for (r, _), adjusted in zip(tested, holm([p for _, p in tested]), strict=True):
            r.p_adjusted = adjusted
            r.vs_best = TIED if adjusted >= alpha else WORSE
    return verdict


def _holdout_tests(client: MlflowClient, best: Row, candidates: list[Row], metric: str, alpha: float,
                   n_resamples: int, seed: int) -> tuple[list[tuple[Row, float]], Verdict]:
    """Paired bootstrap of metric(best) - metric(job) on the held-out rows both were scored on."""
    from runner.track import predictions
    from runner.train.uncertainty import paired_bootstrap

    tested: list[tuple[Row, float]] = []
    n_rows = 0
    ours = predictions.load(client, best.run_id, best.artifact_uri or None) if candidates else None
    our_rows = set(ours["row"].tolist()) if ours is not None else set()
    for start in range(0, len(candidates), LOAD_CHUNK):
        chunk = candidates[start:start + LOAD_CHUNK]
        theirs_of = (predictions.load_all(client, {r.run_id: r.artifact_uri or None for r in chunk})
                     if ours is not None else {})
        for r in chunk:
            theirs = theirs_of.get(r.run_id)
            if ours is None or theirs is None:
                r.vs_best = NOT_RECORDED
                continue
            if set(theirs["row"].tolist()) != our_rows:
                r.vs_best = NOT_COMPARABLE  # the params said the same split; the rows say otherwise
                continue
            try:
                pair = predictions.paired(theirs, ours)  # a = the job, b = the best: p is "best better"
            except ValueError as e:
                log.warning("job %s is not compared with the best: %s", r.job, e)
                r.vs_best = NOT_COMPARABLE
                continue
            result = paired_bootstrap(pair.y_true, pair.a, pair.b, pair.classes, metric,
                                      n_resamples=n_resamples, seed=seed)
            tested.append((r, result.p_value))
            n_rows = pair.n_rows
    test = BOOTSTRAP if tested else None
    return tested, Verdict(metric, "holdout", test, len(tested), n_rows, alpha=alpha, n_resamples=n_resamples)


def fold_scores(client: MlflowClient, run_id: str, metric: str) -> np.ndarray | None:
    """The job's per-fold `cv_<metric>` in fold order (the step), None when it logged none."""
    import numpy as np

    history = client.get_metric_history(run_id, f"cv_{metric}")
    by_step = {m.step: m.value for m in history}
    if len(by_step) < 2 or sorted(by_step) != list(range(len(by_step))):
        return None
    return np.asarray([by_step[s] for s in range(len(by_step))], dtype=float)


def fold_sizes(row: Row) -> tuple[int, int]:
    """(n_train, n_test) of one fold, as runner.train.crossval computes them from the training split.

    A run without its training split's size gives the ratio alone: (folds - 1, 1).
    """
    folds = int(row.params["eval.folds"])
    if row.train_rows:
        n_test = round(row.train_rows / folds)
        return row.train_rows - n_test, n_test
    return folds - 1, 1


def _cv_tests(client: MlflowClient, best: Row, candidates: list[Row], metric: str, alpha: float,
              n_resamples: int) -> tuple[list[tuple[Row, float]], Verdict]:
    """Corrected resampled t-test of the per-fold differences cv_metric(best) - cv_metric(job)."""
    from runner.train.uncertainty import corrected_resampled_t

    tested: list[tuple[Row, float]] = []
    ours = fold_scores(client, best.run_id, metric) if candidates else None
    n_train, n_test = fold_sizes(best) if candidates else (0, 0)
    for r in candidates:
        theirs = fold_scores(client, r.run_id, metric) if ours is not None else None
        if ours is None or theirs is None or len(theirs) != len(ours):
            r.vs_best = NOT_RECORDED
            continue
        tested.append((r, corrected_resampled_t((ours - theirs).tolist(), n_train, n_test).p_value_one_sided))
    folds = f"{best.params.get('eval.folds', '?')}x{best.params.get('eval.repeats', '?')}"
    test = CORRECTED_T if tested else None
    return tested, Verdict(metric, "cv", test, len(tested), folds=folds, alpha=alpha, n_resamples=n_resamples)


# ---------------------------------------------------------------------------------------------------- the note


def _share(values: list[Any]) -> Any:
    """The value every row has, else None."""
    distinct = Counter(values)
    return next(iter(distinct)) if len(distinct) == 1 else None


def _percent(confidence: Any) -> str:
    try:
        return f"{float(confidence) * 100:g}%"
    except (TypeError, ValueError):
        return "each job's eval.confidence"


def interval_note(rows: list[Row], metric: str) -> str:
    """What the interval after the ranking value is (for the kinds of evaluation on the board)."""
    shown = [r for r in rows if r.scored and r.rank_interval(metric) is not None]
    if not shown:
        return ""
    parts = []
    holdout = [r for r in shown if r.eval_kind != "cv"]
    cv = [r for r in shown if r.eval_kind == "cv"]
    if holdout:
        conf = _percent(_share([r.params.get("eval.confidence") for r in holdout]))
        resamples = _share([r.params.get("eval.bootstrap") for r in holdout])
        of = f", {resamples} resamples" if resamples else ""  # eval.bootstrap
        parts.append(f"{conf} bootstrap interval on the held-out rows (stratified{of})")
    if cv:
        conf = _percent(_share([r.params.get("eval.confidence") for r in cv]))
        folds = _share([f"{r.params.get('eval.folds', '?')}x{r.params.get('eval.repeats', '?')}" for r in cv])
        over = f"the {folds} folds" if folds else "the folds"
        who = "" if not holdout else "eval=cv jobs: "
        parts.append(f"{who}{conf} corrected resampled t interval of cv_{metric}_mean over {over}")
    text = "[low, high]: " + "; ".join(parts)
    if holdout and cv:  # one column holds two kinds of value
        text = (f"{metric}*: the held-out {metric}, or cv_{metric}_mean for eval=cv jobs (ranked together, "
                f"compared only within one kind); {text}")
    return text


def vs_best_note(rows: list[Row], verdict: Verdict) -> str:
    """What the marks mean, naming the test and the correction."""
    marks = {r.vs_best for r in rows}
    if not marks - {"", BEST}:
        return ""
    parts = []
    m = verdict.metric
    if verdict.test == BOOTSTRAP:
        what = (f"paired bootstrap of the {m} difference on the same {verdict.n_rows} held-out rows "
                f"({verdict.n_resamples} resamples)")
    elif verdict.test == CORRECTED_T:
        what = (f"corrected resampled t-test (Nadeau & Bengio) of the per-fold {m} differences on the same "
                f"{verdict.folds} folds")
    else:
        what = ""
    if what:
        jobs = "job" if verdict.compared == 1 else "jobs"
        parts.append(f"tied = not significantly worse than the best, worse = significantly worse: {what}, "
                     f"one-sided p with Holm's correction over {verdict.compared} {jobs}, α={verdict.alpha:g}")
    if NOT_COMPARABLE in marks:
        parts.append("n/c: scored on other rows (another dataset, split, seed or evaluation)")
    if NOT_RECORDED in marks:
        parts.append("-: not comparable from its records (a run logged before predictions were)")
    return "vs best: " + "; ".join(parts)


def note(rows: list[Row], metric: str, verdict: Verdict | None) -> list[str]:
    """The lines under the table: the interval, then the test and the correction behind the marks."""
    lines = [interval_note(rows, metric)]
    if verdict is not None:
        lines.append(vs_best_note(rows, verdict))
    return [line for line in lines if line]


def mark_safely(client: MlflowClient, rows: list[Row], metric: str) -> Verdict | None:
    """`mark`, but a leaderboard is never lost to it: on an error the rows stay unmarked (logged)."""
    try:
        return mark(client, rows, metric)
    except Exception as e:  # noqa: BLE001 - the table matters more than its marks
        log.warning("the jobs were not compared with the best: %s", e)
        for r in rows:
            r.vs_best, r.p_adjusted = "", math.nan
        return None
