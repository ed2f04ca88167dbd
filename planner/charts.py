"""PURE: geometry of the small SVG charts on the proposal page (the templates only draw it)."""

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
