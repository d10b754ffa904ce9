"""``appliesTo`` grammar: SNAPRed's single conditions, comma-separated conjunctions, clear errors."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snapcal_core.errors import StorageError
from snapcal_core.storage.applies_to import applies, normalise, parse_applies_to


@pytest.mark.parametrize(("expression", "run", "expected"), [
    (">=5", 5, True), (">=5", 4, False), (">5", 5, False), ("<=5", 5, True), ("<5", 5, False),
    ("7", 7, True), ("7", 8, False), ("=7", 7, True), ("==7", 7, True),
    (">=5,<9", 5, True), (">=5,<9", 9, False), (" >= 5 , < 9 ", 8, True), ("3,>0", 3, True), ("3,>3", 3, False),
])
def test_conditions_all_must_hold(expression, run, expected):
    assert applies(expression, run) is expected


def test_normalise_gives_the_canonical_text():
    assert normalise(" >= 5 , <9") == ">=5,<9"
    assert normalise("=58810") == "58810"


@pytest.mark.parametrize("bad", ["", "  ", "abc", ">=x", "5-9", "=>5", ">=5,", ",>=5", ">= -5", "5.0", ">=٥",
                                 ">=5;<9", "!=5", ">" * 300])
def test_malformed_expressions_are_clear_errors(bad):
    with pytest.raises(StorageError, match="appliesTo"):
        parse_applies_to(bad)


@given(st.lists(st.tuples(st.sampled_from([">=", "<=", ">", "<", ""]), st.integers(0, 10**6)), min_size=1, max_size=4),
       st.integers(1, 10**6))
def test_applies_agrees_with_the_comparisons_it_names(conditions, run):
    text = ",".join(f"{op}{n}" for op, n in conditions)
    compare = {">=": run.__ge__, "<=": run.__le__, ">": run.__gt__, "<": run.__lt__, "": run.__eq__}
    assert applies(text, run) == all(compare[op](n) for op, n in conditions)
    assert normalise(normalise(text)) == normalise(text) == text
