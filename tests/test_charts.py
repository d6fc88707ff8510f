"""The observatory's SVG charts (issue 12): hidden cells drawn as hatched markers with
their label, axis ticks at round steps, and the numbers in words for a screen reader."""

from __future__ import annotations

import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from app.web.charts import MAX_TICKS, Point, bar_chart, line_chart, nice_ticks

NICE = {1, 2, 5}


def _is_nice(step: int) -> bool:
    while step % 10 == 0:
        step //= 10
    return step in NICE


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=2, max_value=12))
def test_ticks_are_whole_round_even_steps_from_zero_just_past_the_top(top, most):
    ticks = nice_ticks(top, most)
    step = ticks[1] - ticks[0]
    assert ticks[0] == 0 and all(isinstance(t, int) for t in ticks)
    assert all(b - a == step for a, b in itertools.pairwise(ticks))
    assert _is_nice(step), ticks
    assert ticks[-1] >= max(top, 1) > ticks[-2], "the axis ends at the first tick past the top"
    assert len(ticks) - 1 <= most


@given(st.integers(min_value=1, max_value=10**6))
def test_ticks_use_the_finest_round_step_that_fits(top):
    ticks = nice_ticks(top)
    step = ticks[1]
    finer = [s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if s < step and _is_nice(s)]
    assert all(-(-top // s) > MAX_TICKS for s in finer), (top, ticks)


def test_the_axis_of_five_is_not_zero_one_two_four_five():
    assert nice_ticks(5) == [0, 1, 2, 3, 4, 5]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(23) == [0, 5, 10, 15, 20, 25]
    assert nice_ticks(0) == [0, 1]


def _axis(svg: str) -> list[str]:
    return re.findall(r'class="chart-axis">(\d+)</text>', svg)


def test_line_chart_ticks_are_round_numbers():
    svg = str(line_chart("Meses", [Point("ene", 5), Point("feb", 3), Point("mar", 4)]))
    assert _axis(svg) == ["0", "1", "2", "3", "4", "5"]
    svg = str(line_chart("Meses", [Point("ene", 37), Point("feb", 12)]))
    assert _axis(svg) == ["0", "10", "20", "30", "40"]


def test_a_hidden_cell_is_a_hatched_bar_with_its_label():
    svg = str(bar_chart("Por tipo", [Point("Física", 40), Point("Sexual", "<5"), Point("X", "*")]))
    pattern = re.search(r'<pattern id="(hatch-[0-9a-f]+)"', svg)
    assert pattern, "the chart carries its hatch pattern"
    hatched = re.findall(rf'<rect [^>]*fill="url\(#{pattern.group(1)}\)"', svg)
    assert len(hatched) == 2
    assert re.search(r'class="chart-value">&lt;5</text>', svg)
    assert re.search(r'class="chart-value">\*</text>', svg)
    assert "style=" not in svg


def test_a_hatched_bar_says_nothing_of_the_value_behind_it():
    """The same marker for "<5" whatever the scale: its length tells no count."""
    small = str(bar_chart("A", [Point("a", 6), Point("b", "<5")]))
    large = str(bar_chart("A", [Point("a", 600), Point("b", "<5")]))

    def marker(svg: str) -> str:
        found = re.search(r'<rect [^>]*class="chart-hidden"/>', svg)
        assert found
        return found.group(0)

    assert marker(small) == marker(large)


def test_hidden_months_get_a_hatched_marker_and_break_the_line():
    svg = str(line_chart("Meses", [Point("ene", 6), Point("feb", "<5"), Point("mar", 7)]))
    assert svg.count('class="chart-hidden"') == 1
    assert svg.count("<circle") == 2 and svg.count("<polyline") == 0
    assert 'class="chart-value">&lt;5</text>' in svg


def test_each_chart_of_a_page_has_its_own_pattern_id():
    ids = {
        re.search(r'<pattern id="([^"]+)"', str(bar_chart(t, [Point("a", "<5")]))).group(1)
        for t in ("Hechos por distrito", "Hechos por tipo de violencia", "Hechos por mes")
    }
    assert len(ids) == 3


def test_the_chart_is_read_aloud_with_its_numbers():
    svg = str(bar_chart("Por tipo", [Point("Física", 40), Point("Sexual", "<5")]))
    label = re.search(r'aria-label="([^"]+)"', svg)
    assert label and label.group(1) == "Por tipo. Física: 40; Sexual: &lt;5"
    assert 'role="img"' in svg
