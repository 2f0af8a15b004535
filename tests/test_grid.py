"""Plain-text tables (smartflow.grid): the layout the command line prints lists, versions and reports in."""

from __future__ import annotations

import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from smartflow.grid import grid, width


def test_columns_two_spaces_apart_under_underlined_headers() -> None:
    assert grid([["Concrete", "new", None], ["Бетон М300", "prices", True]], ["title", "stage", "x"]) == (
        "title       stage    x\n"
        "----------  -------  ----\n"
        "Concrete    new\n"
        "Бетон М300  prices   True")


def test_a_column_is_its_header_and_two_more_wide_at_least_and_no_rows_leave_the_headers() -> None:
    assert grid([], ["id", "заголовок"]) == "id    заголовок\n----  -----------"


def test_numbers_align_right_where_asked() -> None:
    assert grid([[3, "admin", 12], [12, "ci", 0]], ["version", "by", "changes"], right={0, 2}) == (
        "  version  by       changes\n"
        "---------  -----  ---------\n"
        "        3  admin         12\n"
        "       12  ci             0")


def test_a_cell_of_several_lines_takes_several_and_cells_are_trimmed() -> None:
    assert grid([["  first\nsecond line  ", "b"], ["c", " d "]], ["a", "b"]) == (
        "a            b\n"
        "-----------  ---\n"
        "first        b\n"
        "second line\n"
        "c            d")


def test_wide_characters_take_two_columns_and_combining_marks_none() -> None:
    assert width("漢字") == 4 and width("é") == 1 and width("ё") == 1 and width("abc") == 3
    assert grid([["漢字", "x"]], ["name", "y"]).splitlines()[2] == "漢字    x"


@given(st.lists(st.lists(st.one_of(st.none(), st.integers(), st.text(alphabet="абвгдёabc XYZ\n", max_size=12)),
                         min_size=3, max_size=3), max_size=5))
def test_each_column_keeps_to_its_place_under_its_dashes(rows: list[list[object]]) -> None:
    lines = grid(rows, ["один", "two", "три"]).split("\n")
    spans = [match.span() for match in re.finditer("-+", lines[1])]
    assert len(spans) == 3 and len(lines) >= 2 + len(rows)
    for line in lines:
        assert line == line.rstrip()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert line[end:start].strip() == ""  # the gap between two columns stays empty
