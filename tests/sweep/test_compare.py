"""The marks against the best (runner.sweep.compare) read the jobs' predictions where they lie: the same marks and
Holm-adjusted p-values as through MLflow's downloads, however many are read at once. A real SQLite store in tmp_path,
runs logged by hand (no training)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runner.sweep import compare, leaderboard
from runner.track import names, store
from runner.train.evaluate import prediction_frame, scores

N_ROWS = 200


def predictions_of(quality: float, rng: np.random.Generator) -> pd.DataFrame:
    y = np.zeros(N_ROWS, dtype=np.int64)
    y[: N_ROWS // 4] = 1
    p = np.clip(rng.normal(0.3 + 0.45 * quality * y, 0.2), 0, 1)
    return prediction_frame(np.arange(N_ROWS) * 3, y, (p >= 0.5).astype(np.int64), np.column_stack([1 - p, p]),
                            np.array([0, 1]))


@pytest.fixture
def board(client, store_uri: str, tmp_path: Path) -> list[leaderboard.Row]:
    """12 jobs scored on the same rows (one without predictions, one on other rows), ranked by f1."""
    exp = store.prepare(store_uri, "compare")
    rng = np.random.default_rng(3)
    run_ids = []
    for i in range(12):
        frame = predictions_of(0.4 + 0.05 * i, rng)
        if i == 4:
            frame = frame.assign(row=frame["row"] + 1)  # the params say the same split; the rows do not
        m = scores(frame["label"], frame["prediction"], frame[["proba_0", "proba_1"]].to_numpy(), np.array([0, 1]))
        run_id = client.create_run(exp, tags={names.JOB_NUM: str(i), names.DATA_DIGEST: "d" * 32}).info.run_id
        for k, v in {"dataset.test_size": "0.3", "dataset.random_state": "42"}.items():
            client.log_param(run_id, k, v)
        client.log_metric(run_id, "f1", m["f1"])
        if i != 7:
            path = tmp_path / "p" / str(i) / "holdout.parquet"
            path.parent.mkdir(parents=True)
            frame.to_parquet(path, index=False)
            client.log_artifact(run_id, str(path), "predictions")
        client.set_terminated(run_id, "FINISHED")
        run_ids.append(run_id)
    runs = [client.get_run(r) for r in run_ids]
    return leaderboard.sort([leaderboard.row_of(r) for r in runs], "f1")


def marks(rows: list[leaderboard.Row]) -> list[tuple[str, str, float]]:
    return [(r.job, r.vs_best, r.p_adjusted) for r in rows]


def test_marks_read_in_place_equal_marks_through_mlflows_downloads(client, board, monkeypatch) -> None:
    assert all(r.artifact_uri.startswith("file://") for r in board)
    in_place = compare.mark(client, board, "f1", n_resamples=200)
    got = marks(board)
    for r in board:  # no artifact location: every file through MlflowClient.download_artifacts, one by one
        r.artifact_uri = ""
    through_mlflow = compare.mark(client, board, "f1", n_resamples=200)
    assert marks(board) == got and through_mlflow == in_place
    monkeypatch.setattr(compare, "LOAD_CHUNK", 3)  # read a few at a time: the same marks
    for r in board:
        r.vs_best, r.p_adjusted = "", math.nan
    assert compare.mark(client, board, "f1", n_resamples=200) == in_place and marks(board) == got

    by_job = {job: mark for job, mark, _ in got}
    assert by_job["7"] == compare.NOT_RECORDED and by_job["4"] == compare.NOT_COMPARABLE
    assert [m for _, m, _ in got].count(compare.BEST) == 1
    assert {compare.TIED, compare.WORSE} <= set(by_job.values())
    assert in_place.compared == 9 and in_place.n_rows == N_ROWS
    tested = [p for _, m, p in got if m in (compare.TIED, compare.WORSE)]
    assert len(tested) == 9 and all(0 < p <= 1 for p in tested)
