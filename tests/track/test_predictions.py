"""A job's logged predictions read back (runner.track.predictions): in place when local, else downloaded; the
same frame either way. Real SQLite stores in tmp_path; the remote path against a real `mlflow server` (slow)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runner.track import names, predictions, store
from runner.train.evaluate import prediction_frame


def frame(seed: int, n: int = 40, labels: tuple[str, str] = ("no", "yes")) -> pd.DataFrame:
    """A held-out predictions file as a job logs it (text labels: their type must survive the round trip)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    y = np.where(rng.uniform(0, 1, n) < 0.3, labels[1], labels[0])
    return prediction_frame(np.arange(n) * 2, y, np.where(p >= 0.5, labels[1], labels[0]),
                            np.column_stack([1 - p, p]), np.asarray(labels))


def logged_run(client, experiment_id: str, tmp_path: Path, data: pd.DataFrame | None) -> str:
    """A run holding `data` as predictions/holdout.parquet (none with None)."""
    run_id = client.create_run(experiment_id).info.run_id
    if data is not None:
        folder = tmp_path / run_id / "predictions"
        folder.mkdir(parents=True)
        data.to_parquet(folder / "holdout.parquet", index=False)
        client.log_artifact(run_id, str(folder / "holdout.parquet"), "predictions")
    client.set_terminated(run_id, "FINISHED")
    return run_id


@pytest.mark.parametrize("uri, expected", [
    ("file:///tmp/store/mlartifacts/1/abc/artifacts", "/tmp/store/mlartifacts/1/abc/artifacts"),
    ("file://localhost/tmp/a", "/tmp/a"),
    ("file:///tmp/with%20space/artifacts", "/tmp/with space/artifacts"),
    ("/tmp/plain/artifacts", "/tmp/plain/artifacts"),
    ("file://otherhost/tmp/a", None),  # another machine's disk
    ("mlflow-artifacts:/1/abc/artifacts", None),
    ("http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/1", None),
    ("s3://bucket/1/abc/artifacts", None),
    ("./mlruns/1/abc/artifacts", None),  # relative: left to MLflow
    ("", None),
    (None, None),
])
def test_only_an_artifact_location_on_this_machine_is_read_in_place(uri: str | None, expected: str | None) -> None:
    got = predictions.local_folder(uri)
    assert (str(got) if got is not None else None) == expected


def test_read_in_place_is_the_frame_a_download_gives(client, store_uri: str, tmp_path: Path) -> None:
    exp = store.prepare(store_uri, "predictions")
    logged = logged_run(client, exp, tmp_path, frame(0))
    bare = logged_run(client, exp, tmp_path, None)
    uri = client.get_run(logged).info.artifact_uri
    assert predictions.local_folder(uri) is not None  # the embedded store's artifacts are local files
    downloaded = predictions.load(client, logged)  # through the run (MlflowClient.download_artifacts)
    assert downloaded is not None
    pd.testing.assert_frame_equal(predictions.load(client, logged, uri), downloaded)
    pd.testing.assert_frame_equal(predictions._download(client, logged, uri), downloaded)  # from the location
    pd.testing.assert_frame_equal(downloaded, frame(0))
    assert downloaded["label"].tolist() == frame(0)["label"].tolist()
    none_uri = client.get_run(bare).info.artifact_uri
    assert predictions.load(client, bare) is None and predictions.load(client, bare, none_uri) is None
    assert predictions._download(client, bare, none_uri) is None


def test_load_all_keeps_the_order_and_downloads_the_rest_in_threads(client, store_uri: str, tmp_path: Path) -> None:
    exp = store.prepare(store_uri, "predictions")
    ids = [logged_run(client, exp, tmp_path, frame(i) if i != 2 else None) for i in range(5)]
    uris = {i: client.get_run(i).info.artifact_uri for i in ids}
    # local: read in place; None: downloaded through the run by 3 threads; the same frames in the asked order
    in_place = predictions.load_all(client, {i: uris[i] for i in reversed(ids)})
    downloaded = predictions.load_all(client, dict.fromkeys(ids), threads=3)
    assert list(in_place) == list(reversed(ids)) and list(downloaded) == ids
    for k, i in enumerate(ids):
        if k == 2:
            assert in_place[i] is None and downloaded[i] is None
            continue
        pd.testing.assert_frame_equal(in_place[i], frame(k))
        pd.testing.assert_frame_equal(downloaded[i], frame(k))


def test_a_local_folder_that_is_gone_reads_as_no_predictions(client, store_uri: str, tmp_path: Path) -> None:
    exp = store.prepare(store_uri, "predictions")
    run_id = logged_run(client, exp, tmp_path, frame(1))
    folder = predictions.local_folder(client.get_run(run_id).info.artifact_uri)
    (folder / names.HOLDOUT_PREDICTIONS).unlink()
    assert predictions.load(client, run_id) is None  # as the download says
    assert predictions.load(client, run_id, folder.as_uri()) is None


@pytest.mark.slow
@pytest.mark.server
def test_a_tracking_servers_predictions_download_from_their_location(tracking_server, tmp_path: Path) -> None:
    import mlflow

    client = mlflow.MlflowClient(tracking_server["url"])
    exp = client.create_experiment(f"predictions-{tmp_path.name}")
    ids = [logged_run(client, exp, tmp_path, frame(i) if i else None) for i in range(4)]
    uris = {i: client.get_run(i).info.artifact_uri for i in ids}
    assert all(u.startswith("mlflow-artifacts:") and predictions.local_folder(u) is None for u in uris.values())
    by_location = predictions.load_all(client, uris, threads=3)
    for k, i in enumerate(ids):
        through_run = predictions.load(client, i)
        if k == 0:
            assert through_run is None and by_location[i] is None
        else:
            pd.testing.assert_frame_equal(by_location[i], through_run)
            pd.testing.assert_frame_equal(by_location[i], frame(k))


def test_pairing_frames_in_the_same_row_order_equals_pairing_by_row_number() -> None:
    """The same split's frames (same rows, same order) are paired without an index; the result is the one of
    matching rows by number, as for frames in another order or with other rows."""
    a, b = frame(1), frame(2)
    b["label"] = a["label"]  # the same held-out rows carry the same labels
    fast = predictions.paired(a, b)
    shuffled = b.sample(frac=1.0, random_state=0)  # the general path: rows matched by number
    slow = predictions.paired(a, shuffled)
    np.testing.assert_array_equal(fast.rows, slow.rows)
    np.testing.assert_array_equal(fast.y_true, slow.y_true)
    for got, want in ((fast.a, slow.a), (fast.b, slow.b)):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    partial = predictions.paired(a, b.iloc[5:])  # only the rows both hold
    assert partial.n_rows == len(a) - 5 and set(partial.rows) == set(a["row"].iloc[5:])
    with pytest.raises(ValueError, match="different labels"):
        predictions.paired(a, b.assign(label=np.where(b["label"] == "yes", "no", "yes")))
