"""Values written back as Hydra overrides (runner.sweep.overrides): Hydra's own parser reads back what was written."""
from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from runner.sweep import overrides

PARSER = OverridesParser.create()


def parsed(text: str):
    (override,) = PARSER.parse_overrides([text])
    return override.value()


@pytest.mark.parametrize("value", [
    "sqlite:////tmp/a b/mlflow.db", "http://alice:pw@host:5000/x?y=1,2", "it's", "back\\slash", "ends with \\",
    "quote at end'", "\\'", "\\\\'", 'double "quotes"', "a=b,c", "${not.an.interpolation}", "", "null", "[1,2]",
])
def test_quoted_strings_read_back_unchanged(value: str) -> None:
    assert parsed(f"key={overrides.quoted(value)}") == value


@pytest.mark.parametrize("value", [None, True, False, 0, -3, 2.5, 1e-05, "plain", "a/b.c:d-e_f", "null", "true",
                                   "has space", "x,y", [1, "a", None], ["id", "region"], [], [[1, 2], [3]]])
def test_values_read_back_as_the_same_values(value) -> None:
    text = overrides.value(value)
    assert parsed(f"key={text}") == value


def test_plain_text_stays_unquoted_and_words_hydra_would_convert_are_quoted() -> None:
    assert overrides.value("logreg") == "logreg" and overrides.value("data/churn.csv") == "data/churn.csv"
    assert overrides.value("null") == "'null'" and overrides.value("true") == "'true'"
    assert overrides.value(["id", "region"]) == "[id,region]"
    assert overrides.quoted("it's") == "'it\\'s'"
