"""Hyperparameter search: Hydra's Optuna sweeper over the runner's jobs, trials as child runs."""
from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

pytestmark = pytest.mark.slow  # a real Optuna sweep in a subprocess (the presets: config/test_compose.py)


def test_search_reports_and_registers_the_best_trial(run_cli, client) -> None:
    proc = run_cli("-m", "hparams_search=xgb-optuna", "hydra.sweeper.n_trials=4", "dataset.n_samples=400",
                   "optimized_metric=roc_auc", "registry.register=best", "registry.name=search-best")
    exp = client.get_experiment_by_name("synthetic-imbalanced")
    runs = client.search_runs([exp.experiment_id], max_results=100)
    (parent,) = [r for r in runs if r.data.tags.get("runner.sweep") == "true"]
    trials = [r for r in runs if r.data.tags.get("runner.sweep") != "true"]
    assert len(trials) == 4 and all(r.info.status == "FINISHED" for r in trials)
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in trials)
    assert all(r.data.tags["runner.model"] == "xgb" for r in trials)

    # the sweeper's result: best params and value, saved in the sweep folder and on the parent run
    (sweep_dir,) = {Path(r.data.tags["runner.output_dir"]).parent for r in trials}
    result = OmegaConf.load(sweep_dir / "optimization_results.yaml")
    best_logged = max(r.data.metrics["roc_auc"] for r in trials)
    assert result.best_value == best_logged
    assert parent.data.metrics["best_roc_auc"] == best_logged
    assert "optimization_results.yaml" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert "Best value" in proc.stdout + proc.stderr

    # the best trial is the run whose params are the reported best params, and it has the best metric
    def matches(run) -> bool:
        for key, value in result.best_params.items():
            if key == "sampler":
                if run.data.tags["runner.sampler"] != value:
                    return False
            elif float(run.data.params[key.lstrip("+")]) != float(value):
                return False
        return True

    (best,) = [r for r in trials if matches(r)]
    assert best.data.metrics["roc_auc"] == best_logged
    # registry.register=best registered that trial, and only it
    (version,) = client.search_model_versions("name='search-best'")
    assert version.run_id == best.info.run_id
