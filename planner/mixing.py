"""Turn people and their meeting history into seating weights, table bounds and mixing scores.

Weight of seating i next to j (symmetric, >= 0, zero on the diagonal):

    w_ij = w_department * [department_i != department_j]
         + w_level * |level_i - level_j| / level_span          (level_span = max level - min level, or 1)
         + w_new * novelty(days since i and j last met)           (1 when they never met)

novelty(d) = 0 right after a meeting and climbs back to 1 along a smooth "smoothstep" curve
3x^2 - 2x^3 with x = d / recovery_days (capped at 1), so a pair that met half a year ago
(182 days by default) counts as new again, and one that met last week hardly counts at all.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import combinations

import numpy as np


@dataclass(frozen=True)
class Person:
    """Someone to seat: an id, a department and a level (0 = most junior)."""

    id: Hashable
    department: str
    level: int = 0


def novelty(days_since_met: float | None, recovery_days: float = 182) -> float:
    """Return how new a pair is: 0 just after meeting, 1 after `recovery_days` or when never met."""
    if days_since_met is None:
        return 1.0
    progress = min(max(days_since_met / recovery_days, 0.0), 1.0) if recovery_days > 0 else 1.0
    return progress * progress * (3.0 - 2.0 * progress)


def pair_weights(
    people: Sequence[Person],
    met_on: Mapping[frozenset, date],
    today: date,
    *,
    w_department: float = 1.0,
    w_level: float = 0.5,
    w_new: float = 1.0,
    recovery_days: float = 182,
) -> np.ndarray:
    """Return the symmetric n x n matrix of how much it is worth seating each pair together."""
    departments = np.array([person.department for person in people], dtype=object)
    levels = np.array([person.level for person in people], dtype=float)
    if len(people) == 0:
        return np.zeros((0, 0))
    span = float(levels.max() - levels.min()) or 1.0
    weights = w_department * (departments[:, None] != departments[None, :]).astype(float)
    weights += w_level * np.abs(levels[:, None] - levels[None, :]) / span
    newness = np.ones_like(weights)
    index = {person.id: position for position, person in enumerate(people)}
    for pair, met in met_on.items():
        positions = [index[member] for member in pair if member in index]
        if len(positions) == 2:
            i, j = positions
            newness[i, j] = newness[j, i] = novelty((today - met).days, recovery_days)
    weights += w_new * newness
    np.fill_diagonal(weights, 0.0)
    return weights


def table_bounds(
    n: int, sizes: Sequence[int] | None = None, min_size: int = 6, max_size: int = 8
) -> list[tuple[int, int]]:
    """Return (min, max) per table: the fewest tables of min_size..max_size, or the given capacities."""
    if n < 0 or min_size < 1 or min_size > max_size:
        raise ValueError("need n >= 0 and 1 <= min_size <= max_size")
    if sizes is not None:
        if any(capacity < 1 for capacity in sizes) or sum(sizes) < n:
            raise ValueError(f"{n} people do not fit at tables of {list(sizes)}")
        return [(0, capacity) for capacity in sizes]
    if n == 0:
        return []
    tables = -(-n // max_size)
    if tables * min_size > n:
        raise ValueError(f"{n} people cannot sit at tables of {min_size} to {max_size}")
    return [(min_size, max_size)] * tables


def pair_bounds(n: int) -> list[tuple[int, int]]:
    """Return coffee-roulette bounds: pairs, plus one group of three when n is odd."""
    if n < 2:
        raise ValueError("coffee roulette needs at least two people")
    return [(2, 2)] * (n // 2 - 1) + [(2 + n % 2, 2 + n % 2)]


@dataclass(frozen=True)
class TableScore:
    """How mixed one table (or all tables together) is."""

    cross_department_share: float
    new_pairs: int
    mean_level_spread: float


def mixing_score(
    groups: Sequence[int],
    people: Sequence[Person],
    met_on: Mapping[frozenset, date],
    today: date,
    *,
    recovery_days: float = 182,
) -> tuple[list[TableScore], TableScore]:
    """Score each table and the whole plan: cross-department share, new pairs, level spread."""
    tables: dict[int, list[Person]] = {}
    for group, person in zip(groups, people, strict=True):
        tables.setdefault(group, []).append(person)
    per_table, all_pairs, cross, new = [], 0, 0, 0
    for group in sorted(tables):
        members = tables[group]
        pairs = list(combinations(members, 2))
        table_cross = sum(a.department != b.department for a, b in pairs)
        table_new = sum(_is_new(a, b, met_on, today, recovery_days) for a, b in pairs)
        spread = max(m.level for m in members) - min(m.level for m in members)
        per_table.append(TableScore(table_cross / len(pairs) if pairs else 0.0, table_new, float(spread)))
        all_pairs, cross, new = all_pairs + len(pairs), cross + table_cross, new + table_new
    spreads = [score.mean_level_spread for score in per_table]
    overall = TableScore(cross / all_pairs if all_pairs else 0.0, new, float(np.mean(spreads)) if spreads else 0.0)
    return per_table, overall


def _is_new(a: Person, b: Person, met_on, today: date, recovery_days: float) -> bool:
    """Return whether a and b never met or met at least `recovery_days` ago."""
    met = met_on.get(frozenset((a.id, b.id)))
    return met is None or (today - met).days >= recovery_days
