"""A job killed mid-fit (SIGTERM, Ctrl-C): its run is KILLED, nothing registered, and the next run works."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import RUN_PY, wait_for_running
from runner.track import store

pytestmark = pytest.mark.slow  # real `python run.py` subprocesses, signalled


@pytest.mark.parametrize("sig, multirun", [(signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["sigterm-single", "sigint-sweep"])
def test_a_job_killed_mid_fit_is_killed_and_the_next_run_works(sig, multirun, run_cli, client, store_uri,
                                                               tmp_path: Path) -> None:
    store.prepare(store_uri, "synthetic-imbalanced")  # so this test can poll it while the job runs
    slow = ["model=rf", "model.n_estimators=20000", "model.n_jobs=1", "model.max_depth=null",
            "dataset.n_samples=1000", "registry.register=true"]
    cmd = [sys.executable, str(RUN_PY), *(["-m"] if multirun else []), *slow]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env={**os.environ, "MLFLOW_TRACKING_URI": store_uri},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_id = wait_for_running(client, "synthetic-imbalanced", proc)
        time.sleep(1.0)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err, err
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["runner.failure"] == "interrupted"
    assert "fit_seconds" not in run.data.metrics
    assert client.search_model_versions("name='synthetic-imbalanced-classifier'") == []
    exp = client.get_experiment_by_name("synthetic-imbalanced")
    assert client.search_runs([exp.experiment_id], filter_string="attributes.status = 'RUNNING'") == []
    if multirun:
        parents = [r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get("runner.sweep") == "true"]
        assert [p.info.status for p in parents] == ["KILLED"]
    if not multirun:  # the store is consistent and the next run works
        run_cli("dataset.n_samples=300")
        finished = client.search_runs([exp.experiment_id], filter_string="attributes.status = 'FINISHED'")
        assert len(finished) == 1

