"""PURE: geometry of the small SVG charts on the proposal and analytics pages (the templates only draw it)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import sqrt

SHADES = 5  # pool cells are drawn in this many shades, 0 = nobody available


@dataclass(frozen=True)
class Bar:
    """One group's chosen count as a bar, and its target as a tick across it."""

    label: str
    chosen: int
    target: float
    y: float
    height: float
    width: float
    target_x: float
    state: str  # "on", "over" or "under" target (within half a person counts as on)


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars of chosen vs target, one per group."""

    width: float
    height: float
    left: float
    bars: list[Bar]


@dataclass(frozen=True)
class Label:
    """A piece of text at a position."""

    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Cell:
    """One department x level cell: shaded by the pool, with a square whose area is the share invited."""

    x: float
    y: float
    size: float
    pool: int
    chosen: int
    shade: int
    inner: float  # side of the invited square, centred in the cell

    @property
    def inner_offset(self) -> float:
        """Distance from the cell's edge to the invited square."""
        return round((self.size - self.inner) / 2, 1)


@dataclass(frozen=True)
class GridChart:
    """The department x level grid of the pool and the invitees."""

    width: float
    height: float
    columns: list[Label]
    rows: list[Label]
    cells: list[Cell]


def bar_chart(
    rows: Sequence[tuple[str, int, float]], *, width: float = 420, left: float = 130, bar: float = 16, gap: float = 8
) -> BarChart:
    """Lay out (label, chosen, target) rows as bars scaled to the largest value."""
    room = width - left - 60  # the value label goes right of the bar
    largest = max([1.0, *(max(chosen, target) for _, chosen, target in rows)])
    bars = [
        Bar(
            label=label,
            chosen=chosen,
            target=target,
            y=gap + i * (bar + gap),
            height=bar,
            width=round(room * chosen / largest, 1),
            target_x=round(left + room * target / largest, 1),
            state=_state(chosen, target),
        )
        for i, (label, chosen, target) in enumerate(rows)
    ]
    return BarChart(width=width, height=gap + len(rows) * (bar + gap), left=left, bars=bars)


def _state(chosen: int, target: float) -> str:
    if chosen > target + 0.5:
        return "over"
    if chosen < target - 0.5:
        return "under"
    return "on"


def grid_chart(
    departments: Sequence[str],
    levels: Sequence[tuple[int, str]],
    pool: Mapping[tuple[str, int], int],
    chosen: Mapping[tuple[str, int], int],
    *,
    cell: float = 56,
    left: float = 130,
    top: float = 28,
) -> GridChart:
    """Lay out the department x level grid; levels are (number, name) pairs."""
    busiest = max([1, *pool.values()])
    cells = []
    for row, department in enumerate(departments):
        for column, (level, _) in enumerate(levels):
            available = pool.get((department, level), 0)
            invited = chosen.get((department, level), 0)
            share = min(1.0, invited / available) if available else (1.0 if invited else 0.0)
            cells.append(
                Cell(
                    x=left + column * cell,
                    y=top + row * cell,
                    size=cell - 4,
                    pool=available,
                    chosen=invited,
                    shade=0 if not available else 1 + (SHADES - 2) * available // busiest,
                    inner=round((cell - 12) * sqrt(share), 1),
                )
            )
    columns = [Label(left + i * cell + (cell - 4) / 2, top - 8, name) for i, (_, name) in enumerate(levels)]
    rows = [Label(left - 8, top + i * cell + cell / 2, name) for i, name in enumerate(departments)]
    width, height = left + len(levels) * cell, top + len(departments) * cell
    return GridChart(width=width, height=height, columns=columns, rows=rows, cells=cells)


@dataclass(frozen=True)
class HeatCell:
    """One row x column cell of a heat map: its count of ties and the shade it is drawn in."""

    x: float
    y: float
    size: float
    row: str
    column: str
    value: int
    shade: int  # 0 = none, SHADES - 1 = the largest value


@dataclass(frozen=True)
class HeatMap:
    """A square grid of counts, e.g. ties between departments; column labels are drawn slanted."""

    width: float
    height: float
    columns: list[Label]
    rows: list[Label]
    cells: list[HeatCell]


def heat_map(
    labels: Sequence[str], values: Mapping[tuple[str, str], int], *, cell: float = 44, left: float | None = None,
    char: float = 6.5,
) -> HeatMap:
    """Lay out a labels x labels grid of counts; a missing (row, column) pair counts 0; margins fit the labels."""
    longest = max([1, *(len(label) for label in labels)])
    left = round(12 + char * longest, 1) if left is None else left
    top = round(16 + char * longest * 0.71, 1)  # column labels are slanted by 45 degrees
    largest = max([0, *(values.get((row, column), 0) for row in labels for column in labels)])
    cells = []
    for r, row in enumerate(labels):
        for c, column in enumerate(labels):
            value = values.get((row, column), 0)
            cells.append(HeatCell(left + c * cell, top + r * cell, cell - 4, row, column, value, shade(value, largest)))
    columns = [Label(left + i * cell + (cell - 4) / 2, top - 8, text) for i, text in enumerate(labels)]
    rows = [Label(left - 8, top + i * cell + cell / 2 + 2, text) for i, text in enumerate(labels)]
    return HeatMap(width=left + len(labels) * cell + char * 4, height=top + len(labels) * cell, columns=columns, rows=rows,
                   cells=cells)


def shade(value: float, largest: float) -> int:
    """Return the shade of a value: 0 for nothing, then 1..SHADES - 1 in equal steps up to the largest value."""
    if value <= 0 or largest <= 0:
        return 0
    return 1 + min(SHADES - 2, int((SHADES - 1) * value / largest - 1e-9))


@dataclass(frozen=True)
class Point:
    """A point of a line, with the value it stands for."""

    x: float
    y: float
    value: float


@dataclass(frozen=True)
class Line:
    """One named line of a line chart; `path` is its SVG points attribute."""

    name: str
    points: list[Point]

    @property
    def path(self) -> str:
        """Return the points as an SVG polyline points list."""
        return " ".join(f"{point.x:g},{point.y:g}" for point in self.points)


@dataclass(frozen=True)
class LineChart:
    """Lines over a common x axis (e.g. months), with labelled ticks on the y axis."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    x_labels: list[Label]
    y_ticks: list[Label]
    lines: list[Line]


def line_chart(
    x_labels: Sequence[str], lines: Sequence[tuple[str, Sequence[float]]], *, low: float, high: float,
    ticks: Sequence[tuple[float, str]] = (), width: float = 520, height: float = 200, left: float = 48,
    top: float = 12, bottom: float = 36, right: float = 12,
) -> LineChart:
    """Lay out lines of values between low and high (values outside are clamped) over evenly spaced x labels."""
    if high <= low:
        raise ValueError("high must be above low")
    plot_width, plot_height = width - left - right, height - top - bottom
    step = plot_width / (len(x_labels) - 1) if len(x_labels) > 1 else 0.0

    def x_of(i: int) -> float:
        return round(left + (i * step if len(x_labels) > 1 else plot_width / 2), 1)

    def y_of(value: float) -> float:
        share = (min(max(value, low), high) - low) / (high - low)
        return round(top + plot_height * (1 - share), 1)

    drawn = [Line(name, [Point(x_of(i), y_of(value), value) for i, value in enumerate(values)]) for name, values in lines]
    return LineChart(
        width=width, height=height, left=left, right=width - right, top=top, bottom=height - bottom,
        x_labels=[Label(x_of(i), height - bottom + 16, text) for i, text in enumerate(x_labels)],
        y_ticks=[Label(left - 6, y_of(value), text) for value, text in ticks],
        lines=drawn,
    )


@dataclass(frozen=True)
class Column:
    """One bin of a histogram as an upright bar."""

    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Histogram:
    """Upright bars over a baseline, one per bin."""

    width: float
    height: float
    baseline: float
    columns: list[Column]


def histogram(bins: Sequence[tuple[str, int]], *, bar: float = 36, gap: float = 8, height: float = 140,
              top: float = 18, bottom: float = 22) -> Histogram:
    """Lay out (label, count) bins as upright bars scaled to the largest count (room above each for its value)."""
    room = height - top - bottom
    largest = max([1, *(count for _, count in bins)])
    columns = []
    for i, (label, count) in enumerate(bins):
        tall = round(room * count / largest, 1)
        columns.append(Column(label, count, gap + i * (bar + gap), round(height - bottom - tall, 1), bar, tall))
    return Histogram(width=gap + len(bins) * (bar + gap), height=height, baseline=height - bottom, columns=columns)
