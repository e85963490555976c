"""What a config may instantiate (runner.config.allowlist): every `_target_`, at any depth, before anything is built."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ALLOWED, assert_one_line_error, db_path
from runner.config import allowlist
from runner.errors import UserError


@pytest.mark.slow
def test_allowlist_checks_the_prefix_before_importing_anything(run_cli, tmp_path: Path, store_uri: str) -> None:
    """Importing a module runs its code: a refused name must never be imported, even to inspect it."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "evilmod.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nclass Model:\n    pass\n")
    proc = run_cli("model._target_=evilmod.Model", check=False, env={"PYTHONPATH": str(tmp_path / "plugins")})
    assert_one_line_error(proc, "model._target_=evilmod.Model", ALLOWED)
    assert not marker.exists()
    assert not db_path(store_uri).exists()


def test_allowlist_covers_configs_read_back_from_a_store(tmp_path: Path) -> None:
    """A resolved_config.yaml as a re-run would read it back: refused at any depth, as YAML or as a dict."""
    from omegaconf import OmegaConf

    text = """
seed: 1
model:
  _target_: sklearn.ensemble.BaggingClassifier
  estimator:
    _target_: sklearn.tree.DecisionTreeClassifier
    max_depth: 2
sampler:
  _target_: imblearn.combine.SMOTETomek
  smote:
    _target_: imblearn.over_sampling.SMOTE
"""
    good = OmegaConf.create(text)
    allowlist.check(good)
    allowlist.check(OmegaConf.to_container(good))
    bad = OmegaConf.create(text.replace("sklearn.tree.DecisionTreeClassifier", "shutil.copy"))
    for form in (bad, OmegaConf.to_container(bad)):
        with pytest.raises(UserError, match="model.estimator._target_=shutil.copy: not allowed"):
            allowlist.check(form)
    for target in ("builtins.dict", "os.system", "sklearn.utils.check_array", "sklearn.nope.Model"):
        with pytest.raises(UserError):
            allowlist.check({"model": {"_target_": target}})
    # interpolated targets are checked as Hydra would build them
    sneaky = OmegaConf.create({"evil": "shutil.copy", "model": {"_target_": "${evil}"}})
    with pytest.raises(UserError, match="model._target_=shutil.copy"):
        allowlist.check(sneaky)



def test_targets_are_found_at_every_depth_with_their_keys() -> None:
    node = {"model": {"_target_": "sklearn.ensemble.StackingClassifier",
                      "estimators": [["lr", {"_target_": "sklearn.linear_model.LogisticRegression"}]],
                      "final_estimator": {"_target_": "sklearn.tree.DecisionTreeClassifier"}},
            "sampler": {"_target_": None}, "seed": 1}
    assert list(allowlist.targets(node)) == [
        ("model._target_", "sklearn.ensemble.StackingClassifier"),
        ("model.estimators[0][1]._target_", "sklearn.linear_model.LogisticRegression"),
        ("model.final_estimator._target_", "sklearn.tree.DecisionTreeClassifier"),
        ("sampler._target_", None),
    ]
    allowlist.check(node)  # all allowed; an empty target (sampler=none) builds nothing


@pytest.mark.parametrize("target", ["sklearn.ensemble.RandomForestClassifier", "xgboost.XGBClassifier",
                                    "imblearn.combine.SMOTETomek", "runner.train.samplers.TomekLinks",
                                    "runner.samplers.TomekLinks", "runner.train.labels.LabelEncoded"])
def test_estimators_and_samplers_of_the_allowed_libraries_pass(target: str) -> None:
    allowlist.check_target("model._target_", target)


@pytest.mark.parametrize("target, message", [
    ("sklearn.ensemble.NoSuchForest", "model._target_=sklearn.ensemble.NoSuchForest: no such estimator class"),
    ("sklearn.utils.check_array", "model._target_=sklearn.utils.check_array: no such estimator class"),  # a function
    ("sklearn.utils.Bunch", "model._target_=sklearn.utils.Bunch: not an estimator or sampler class"),
    ("runner.errors.UserError", "model._target_=runner.errors.UserError: not an estimator or sampler class"),
    ("sklearnx.Model", f"model._target_=sklearnx.Model: not allowed; {ALLOWED}"),
])
def test_refusals_name_the_key_and_the_reason(target: str, message: str) -> None:
    with pytest.raises(UserError) as e:
        allowlist.check_target("model._target_", target)
    assert str(e.value).startswith(message)


def test_an_interpolation_that_cannot_be_resolved_is_checked_as_written() -> None:
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"model": {"_target_": "${nowhere}"}})
    with pytest.raises(UserError, match=r"model\._target_=\$\{nowhere\}: not allowed"):
        allowlist.check(cfg)
