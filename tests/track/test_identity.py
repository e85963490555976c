"""What makes two jobs the same job (runner.track.identity): the resolved config less cosmetics, with the data digest.

Which files the code version hashes: track/test_code_version.py."""
from __future__ import annotations

from omegaconf import OmegaConf

from helpers import compose
from runner.track import identity


def resolved(*overrides: str) -> dict:
    return OmegaConf.to_container(compose(list(overrides)), resolve=True)


def test_cosmetic_keys_and_thread_counts_do_not_change_the_identity() -> None:
    base = identity.config_identity(resolved("model=rf", "sampler=smotetomek"), "d" * 32)
    assert len(base) == 32
    for same in (["registry.register=true", "registry.name=other"], ["optimized_metric=roc_auc", "rerun=true"],
                 ["mlflow.experiment_name=x", "mlflow.tracking_uri=sqlite:///x.db"],
                 ["model.n_jobs=1", "sampler.n_jobs=3", "sampler.tomek.n_jobs=2"]):
        assert identity.config_identity(resolved("model=rf", "sampler=smotetomek", *same), "d" * 32) == base, same


def test_what_a_job_computes_changes_the_identity() -> None:
    base = identity.config_identity(resolved("model=rf"), "d" * 32)
    others = {identity.config_identity(resolved("model=rf", "model.max_depth=4"), "d" * 32),
              identity.config_identity(resolved("model=rf", "seed=1"), "d" * 32),
              identity.config_identity(resolved("model=rf", "dataset.test_size=0.2"), "d" * 32),
              identity.config_identity(resolved("model=rf", "+extra.note=a"), "d" * 32),
              identity.config_identity(resolved("model=rf"), "e" * 32)}
    assert base not in others and len(others) == 5
