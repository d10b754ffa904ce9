"""Calibrant rules: default title patterns, explicit runs, and rule files (JSON / TOML) with typed errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snapcal_core.errors import ConfigurationError, SnapcalError
from snapcal_core.simulate.run import SAMPLE_TITLES
from snapcal_core.watch import CalibrantRules, RuleFileError, TitleRule, load_rules

TOML_RULES = r'''
grouping = "Bank"
lite = false

[[titles]]
pattern = "\\bLaB6\\b"
sample = "lab6"

[runs]
"64001" = "silicon"
'''


@pytest.mark.parametrize("sample", sorted(SAMPLE_TITLES))
def test_default_rules_recognise_every_simulated_calibrant_title(sample: str) -> None:
    title = f"{SAMPLE_TITLES[sample]} calibrant (snapcal simulation, seed 0)"
    assert CalibrantRules().sample_for(run_number=1, title=title) == sample


@pytest.mark.parametrize(("title", "sample"), [
    ("DIAMOND powder 5mm", "diamond"), ("Si 640d standard", "silicon"), ("NIST-Si", "silicon"),
    ("ceo2 in V can", "ceria"), ("Ceria 674b", "ceria"),
    ("Vanadium rod", None), ("Basis test", None), ("Simulated empty can", None), ("", None),
])
def test_default_title_patterns_are_case_insensitive_and_whole_words_for_si(title: str, sample: str | None) -> None:
    assert CalibrantRules().sample_for(run_number=1, title=title) == sample


def test_explicit_run_numbers_win_over_titles() -> None:
    rules = CalibrantRules(runs={42: "ceria"})
    assert rules.sample_for(run_number=42, title="Vanadium rod") == "ceria"
    assert rules.sample_for(run_number=42, title="Diamond") == "ceria"
    assert rules.sample_for(run_number=43, title="Diamond") == "diamond"


def test_defaults_are_column_grouping_on_lite_pixels() -> None:
    rules = CalibrantRules()
    assert (rules.grouping, rules.lite) == ("Column", True)


def test_toml_rule_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(TOML_RULES)
    rules = load_rules(path)
    assert rules == CalibrantRules(titles=(TitleRule(pattern=r"\bLaB6\b", sample="lab6"),),
                                   runs={64001: "silicon"}, grouping="Bank", lite=False)
    assert rules.sample_for(run_number=5, title="lab6 powder") == "lab6"
    assert rules.sample_for(run_number=5, title="Diamond") is None  # titles replace the defaults


def test_json_rule_file_equals_its_model_dump(tmp_path: Path) -> None:
    rules = CalibrantRules(runs={7: "diamond"}, grouping="All")
    path = tmp_path / "rules.json"
    path.write_text(rules.model_dump_json())
    assert CalibrantRules.from_file(path) == rules


@pytest.mark.parametrize(("name", "text", "field"), [
    ("bad_regex.toml", '[[titles]]\npattern = "(unclosed"\nsample = "diamond"\n', "titles.0.pattern"),
    ("typo.json", json.dumps({"groupping": "Column"}), "groupping"),
    ("bad_run.json", json.dumps({"runs": {"abc": "silicon"}}), "runs.abc.[key]"),
    ("negative_run.toml", '[runs]\n"-5" = "silicon"\n', "runs"),
    ("bad_lite.toml", 'lite = "sometimes"\n', "lite"),
    ("no_sample.json", json.dumps({"titles": [{"pattern": "x"}]}), "titles.0.sample"),
])
def test_malformed_rule_file_names_the_file_and_the_field(tmp_path: Path, name: str, text: str, field: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(RuleFileError) as info:
        load_rules(path)
    assert str(path) in str(info.value)
    assert f"'{field}'" in str(info.value)


@pytest.mark.parametrize(("name", "text", "says"), [
    ("broken.toml", "grouping = [unclosed", "not valid TOML"),
    ("broken.json", "{\"grouping\": ", "not valid JSON"),
    ("list.json", "[1, 2]", "top level"),
    ("rules.yaml", "grouping: Column", "unsupported suffix"),
])
def test_unparsable_rule_file_names_the_file(tmp_path: Path, name: str, text: str, says: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(RuleFileError, match=says) as info:
        load_rules(path)
    assert str(path) in str(info.value)


def test_missing_rule_file_is_a_configuration_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(RuleFileError) as info:
        load_rules(path)
    assert isinstance(info.value, ConfigurationError) and isinstance(info.value, SnapcalError)
    assert str(path) in str(info.value)
