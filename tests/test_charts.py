"""planner.charts: the geometry of the heat maps, line charts and histograms (pure, no app)."""

import pytest

from planner.charts import SHADES, heat_map, histogram, line_chart, shade


def test_a_heat_map_has_one_cell_per_pair_shaded_by_its_count():
    chart = heat_map(["Sales", "Engineering"], {("Sales", "Sales"): 4, ("Sales", "Engineering"): 1, ("Engineering", "Sales"): 1})
    assert len(chart.cells) == 4
    cells = {(cell.row, cell.column): cell for cell in chart.cells}
    assert cells[("Sales", "Sales")].shade == SHADES - 1
    assert cells[("Sales", "Engineering")].shade == cells[("Engineering", "Sales")].shade == 1
    assert cells[("Engineering", "Engineering")].value == 0 and cells[("Engineering", "Engineering")].shade == 0
    assert [label.text for label in chart.columns] == [label.text for label in chart.rows] == ["Sales", "Engineering"]


def test_a_heat_map_leaves_room_for_its_labels_and_cells_do_not_overlap():
    short = heat_map(["A", "B"], {})
    long = heat_map(["A very long department name", "B"], {})
    assert long.cells[0].x > short.cells[0].x and long.cells[0].y > short.cells[0].y
    first, second = long.cells[0], long.cells[1]
    assert second.x >= first.x + first.size and long.width >= long.cells[-1].x + long.cells[-1].size
    assert long.height == long.cells[-1].y + long.cells[-1].size + 4


@pytest.mark.parametrize(
    ("value", "largest", "expected"), [(0, 10, 0), (1, 10, 1), (5, 10, 2), (7.6, 10, 4), (10, 10, 4), (3, 0, 0)]
)
def test_shades_step_evenly_up_to_the_largest_value(value, largest, expected):
    assert shade(value, largest) == expected


def test_a_line_chart_maps_values_between_low_and_high_onto_the_plot():
    chart = line_chart(["Jan", "Feb", "Mar"], [("Coverage", [0.0, 0.5, 1.0])], low=0.0, high=1.0,
                       ticks=[(0.0, "0%"), (1.0, "100%")], width=240, height=120, left=40, right=0, top=10, bottom=30)
    (line,) = chart.lines
    assert [point.x for point in line.points] == [40, 140, 240]
    assert [point.y for point in line.points] == [90, 50, 10]
    assert line.path == "40,90 140,50 240,10"
    assert [(tick.text, tick.y) for tick in chart.y_ticks] == [("0%", 90), ("100%", 10)]
    assert [label.x for label in chart.x_labels] == [40, 140, 240] and chart.x_labels[0].y == 106


def test_a_line_chart_clamps_values_and_centres_a_single_point():
    chart = line_chart(["Jan"], [("E-I", [3.0])], low=-1.0, high=1.0, width=200, left=0, right=0, top=0, bottom=0, height=100)
    (point,) = chart.lines[0].points
    assert (point.x, point.y, point.value) == (100, 0, 3.0)
    with pytest.raises(ValueError):
        line_chart(["Jan"], [], low=1.0, high=1.0)


def test_a_histogram_scales_its_bars_to_the_largest_bin():
    chart = histogram([("0", 4), ("1", 2), ("2", 0)], bar=30, gap=10, height=100, top=10, bottom=20)
    heights = [column.height for column in chart.columns]
    assert heights == [70, 35, 0]
    assert all(column.y + column.height == chart.baseline == 80 for column in chart.columns)
    assert [column.x for column in chart.columns] == [10, 50, 90] and chart.width == 130
    assert histogram([]).columns == []
