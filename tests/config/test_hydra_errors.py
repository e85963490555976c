"""Hydra's composition errors as one line (runner.config.hydra_errors): real bad overrides composed through Hydra."""
from __future__ import annotations

import pytest

from helpers import compose_error
from runner.config.hydra_errors import error_line


@pytest.mark.parametrize("override, line", [
    ("model=svm", "model=svm: no such model config; available: logreg, rf, xgb"),
    ("hparams_search=nope", "hparams_search=nope: no such hparams_search config; available: rf-optuna, xgb-optuna"),
    ("launcher=nope", "launcher=nope: no such launcher config; available: local-parallel, ray"),
])
def test_an_unknown_group_option_lists_the_available_ones(override: str, line: str) -> None:
    assert error_line(compose_error([override])) == line


def test_the_available_options_are_read_from_the_message_when_the_exception_lacks_them() -> None:
    e = compose_error(["variant=nope"])
    e.options = None  # older Hydra versions: only the message lists them
    assert error_line(e) == ("variant=nope: no such variant config; available: compare-logreg, compare-rf, compare-xgb, "
                             "compare-xgb-smotetomek, underfit-logreg, underfit-rf")


def test_an_unknown_key_names_the_keys_of_its_node_and_how_to_add_it() -> None:
    line = error_line(compose_error(["dataset=iris", "dataset.n_samples=3"]))
    assert line.startswith("dataset.n_samples=3: unknown key; dataset takes: kind, name, random_state, test_size; ")
    assert line.endswith(" +dataset.n_samples=3")
    csv = error_line(compose_error(["dataset=csv", "dataset.sep=tab"]))
    assert csv.startswith("dataset.sep=tab: unknown key; dataset takes: kind, name, path, target, drop")
    assert csv.endswith(" +dataset.sep=tab")


def test_a_misspelt_key_gets_the_likely_one() -> None:
    line = error_line(compose_error(["dataset.n_sampls=5"]))
    assert line.startswith("dataset.n_sampls=5: unknown key; did you mean dataset.n_samples=5?")
    assert "dataset takes: kind, name, n_samples, " in line


def test_adding_a_key_the_config_sets_already_says_to_drop_the_plus() -> None:
    assert error_line(compose_error(["+seed=3"])) == "+seed=3: seed is already set by the config; drop the +: seed=3"
    assert error_line(compose_error(["+model.C=2"])) == "+model.C=2: model.C is already set by the config; drop the +: model.C=2"


def test_a_value_of_the_wrong_type_names_the_override_and_the_rule() -> None:
    line = error_line(compose_error(["seed=1.5"]))
    assert line.startswith("seed=1.5: must be an integer (")
    assert "could not be converted to Integer" in line and "full_key" not in line and "object_type" not in line
    assert "\n" not in line


@pytest.mark.parametrize("override", ["rerun=maybe", "registry.promote=sometimes"])
def test_a_bad_boolean_names_the_override_and_omegaconfs_reason(override: str) -> None:
    line = error_line(compose_error([override]))
    value = override.split("=")[1]
    assert line.startswith(f"{override}: ") and f"Value '{value}' is not a valid bool" in line
    assert "\n" not in line and "full_key" not in line


@pytest.mark.parametrize("override, rule", [("rerun=maybe", "must be true or false"),
                                            ("optimized_metric=[1,2]", "must be a string")])
def test_booleans_and_strings_get_their_rule(override: str, rule: str) -> None:
    assert error_line(compose_error([override])).startswith(f"{override}: {rule} (")


def test_an_unparsable_override_points_to_the_grammar() -> None:
    line = error_line(compose_error(["model=["]))
    assert line.startswith("cannot parse an override: ") and "'['" in line
    assert line.endswith("(see https://hydra.cc/docs/advanced/override_grammar/basic)")


def test_other_errors_are_their_lines_joined() -> None:
    assert error_line(compose_error(["~nope"])) == "Could not delete from config. 'nope' does not exist."


def test_a_cause_is_appended_once_and_an_empty_message_is_the_type() -> None:
    def chained(outer: str, inner: BaseException) -> BaseException:
        try:
            raise RuntimeError(outer) from inner
        except RuntimeError as e:
            return e

    assert error_line(chained("cannot compose", KeyError("dataset"))) == "cannot compose: 'dataset'"
    assert error_line(chained("cannot compose: boom", ValueError("boom"))) == "cannot compose: boom"  # said already
    assert error_line(chained("lines\nfull_key: x\n  joined", ValueError(""))) == "lines; joined"
    assert error_line(ValueError()) == "ValueError"
