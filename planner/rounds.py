"""Who to invite to this round of a series or an event: turns first, then the mix, then new acquaintances.

Turns. A person's tier is their number of invitations in the past year (dates in
(today - 365 days, today]); a newcomer (joined in the last 30 days, never invited) is tier -1.
The seats left by the `must` people go to the lowest tiers: every tier below the cut tier is in,
and the cut tier, the first one that no longer fits whole, is where the choice happens.

Mix. The people whose turn it is (must people, the tiers below the cut, the cut tier) are the
pool; `balance.select_by_cost` takes a minimum-deviation selection of min(k, n) from it with all
but the cut tier as must, so the deviation is exactly the best these people allow. Targets are
proportional: even targets would take the few people of small departments and senior levels
first and leave the last rounds of each pass to the large departments and the juniors (fewer
ties across departments and levels in bench/rounds.py).

New acquaintances. Among those selections the flow takes the one of least total cost, where a
cut-tier person costs, first, how many of the fixed people they met in the last 180 days, then
whether they already have a tie outside their department, then how recently they were invited
(longest ago first). That is exact for the pairs between the fixed people and the cut tier.
Pairs inside the cut tier make the problem quadratic (no two of k people having met is an
independent set), so a local search then swaps a chosen cut-tier person for an unchosen one of
the same department and level (the deviation stays the same) while the swap lowers the number
of pairs who already met, or keeps it and lowers the number of members who already had a tie.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from datetime import date, timedelta
from itertools import chain

import numpy as np

from .balance import Columns, Candidate, must_positions, rotation_indices, select_by_cost_indices

YEAR_DAYS = 365  # invitations that count as turns
NEWCOMER_DAYS = 30  # a start date this recent, and no invitation yet, comes first of all
TIE_DAYS = 180  # a meeting this recent is a tie (the pair has met)
NEWCOMER = -1  # the tier of a newcomer
MODE = "proportional"  # balance targets over the people whose turn it is


def turn_counts(
    candidates: Sequence[Candidate],
    *,
    today: date,
    invited_on: Mapping[Hashable, Sequence[date]] = {},
    joined_on: Mapping[Hashable, date] = {},
) -> dict[Hashable, int]:
    """Each candidate's tier: invitations in the past year, or -1 for a newcomer."""
    pool = Columns.of(candidates)
    return dict(zip(pool.ids.tolist(), _Turns(pool, today, invited_on, joined_on).tier.tolist()))


class _Turns:
    """Each pool member's tier and last invitation (an ordinal, 0 when never), counted in bulk."""

    def __init__(self, pool: Columns, today: date, invited_on, joined_on):
        count, now = len(pool), today.toordinal()
        people = list(invited_on)
        dates = list(map(invited_on.__getitem__, people))
        sizes = np.fromiter(map(len, dates), np.int64, len(people))
        days = np.fromiter(map(date.toordinal, chain.from_iterable(dates)), np.int64, int(sizes.sum()))
        owner = np.repeat(pool.positions(people), sizes)
        days, owner = days[owner >= 0], owner[owner >= 0]
        inside = (days > now - YEAR_DAYS) & (days <= now)
        self.tier = np.bincount(owner[inside], minlength=count)
        invited = np.zeros(count, bool)
        invited[owner] = True
        joined = np.zeros(count, np.int64)
        newcomers = list(joined_on)
        where = pool.positions(newcomers)
        joined[where[where >= 0]] = np.fromiter(map(date.toordinal, map(joined_on.__getitem__, newcomers)), np.int64,
                                                len(newcomers))[where >= 0]
        self.tier[~invited & (joined > now - NEWCOMER_DAYS) & (joined <= now)] = NEWCOMER
        self.last = np.zeros(count, np.int64)
        np.maximum.at(self.last, owner, days)


def plan_round(
    candidates: Sequence[Candidate],
    k: int,
    *,
    today: date,
    invited_on: Mapping[Hashable, Sequence[date]] = {},
    met_on: Mapping[frozenset, date] = {},
    joined_on: Mapping[Hashable, date] = {},
    must: Collection[Hashable] = (),
    seed: int = 0,
) -> list[Hashable]:
    """Ids of min(k, |candidates|) people for this round, must included: turns, then the mix, then new acquaintances."""
    return plan_columns(Columns.of(candidates), k, today=today, invited_on=invited_on, met_on=met_on, joined_on=joined_on,
                        must=must, seed=seed)


def plan_columns(
    pool: Columns,
    k: int,
    *,
    today: date,
    invited_on: Mapping[Hashable, Sequence[date]] = {},
    met_on: Mapping[frozenset, date] = {},
    joined_on: Mapping[Hashable, date] = {},
    must: Collection[Hashable] = (),
    seed: int = 0,
) -> list[Hashable]:
    """Like plan_round, over a pool given as columns (the planner reads them straight from the database)."""
    must_at = must_positions(pool, k, must, MODE)
    turns = _Turns(pool, today, invited_on, joined_on)
    is_must = np.zeros(len(pool), bool)
    is_must[must_at] = True
    size = min(k, len(pool))
    cut = _cut_tier(turns.tier[~is_must], size - len(must_at))
    fixed = np.flatnonzero(is_must | (turns.tier < cut))
    due = np.flatnonzero(~is_must & (turns.tier == cut))
    members = np.concatenate([fixed, due])
    known = _Acquaintances(pool, fixed, due, met_on, today)
    due_costs = known.costs(due, turns.last[due], size - len(fixed))
    costs = np.concatenate([np.zeros(len(fixed), np.int64), due_costs])
    chosen = members[select_by_cost_indices(pool.take(members), size, costs, list(range(len(fixed))), mode=MODE, seed=seed)]

    def due_in_flow_order() -> np.ndarray:
        """The cut tier as the flow ranks it: by cost, then rotation order."""
        rotation = np.empty(len(due), np.int64)
        rotation[rotation_indices(pool.take(due), seed)] = np.arange(len(due))
        return due[np.lexsort((rotation, due_costs))]

    return pool.id_list(known.improve(chosen.tolist(), pool, due_in_flow_order))


def _cut_tier(tiers: np.ndarray, seats: int) -> float:
    """The lowest tier that does not fit whole into the seats (infinity when everyone fits)."""
    values, sizes = np.unique(tiers, return_counts=True)
    over = np.flatnonzero(np.cumsum(sizes) > seats)
    return int(values[over[0]]) if len(over) else float("inf")


class _Acquaintances:
    """Who met whom lately (pairs of candidate positions), as far as the choice inside the cut tier needs it."""

    def __init__(self, pool: Columns, fixed, due, met_on, today):
        count = len(pool)
        since = today - timedelta(days=TIE_DAYS)
        recent = [pair for pair, day in met_on.items() if since < day <= today]
        if set(map(len, recent)) - {2}:
            recent = [pair for pair in recent if len(pair) == 2]
        ends = pool.positions(list(chain.from_iterable(recent))).reshape(-1, 2)
        a, b = ends[(ends >= 0).all(axis=1)].T
        role = np.zeros(count, np.int8)  # 1 fixed, 2 due (the cut tier)
        role[fixed], role[due] = 1, 2
        touching = (role[a] == 2) | (role[b] == 2)
        a, b = a[touching], b[touching]
        cross = pool.department[a] != pool.department[b]
        self.has_tie = np.zeros(count, bool)  # right for the cut tier: has a tie outside their department
        self.has_tie[a[cross]] = self.has_tie[b[cross]] = True
        self.met_fixed = np.bincount(a[role[b] == 1], minlength=count) + np.bincount(b[role[a] == 1], minlength=count)
        inner = (role[a] == 2) & (role[b] == 2)
        self.inner = np.concatenate([np.stack([a[inner], b[inner]]), np.stack([b[inner], a[inner]])], axis=1)

    def costs(self, due: np.ndarray, ordinal: np.ndarray, seats: int) -> np.ndarray:
        """Each cut-tier person's cost: fixed people met, then an existing tie, then how recently last invited."""
        dated = ordinal > 0
        recency = np.where(dated, ordinal - (ordinal[dated].min() if dated.any() else 0) + 1, 0)
        base = seats * int(recency.max(initial=0)) + 1  # one more tie outweighs any sum of recencies
        return (self.met_fixed[due] * (seats + 1) + self.has_tie[due]) * base + recency

    def improve(self, positions: list[int], pool: Columns, due_in_flow_order) -> list[int]:
        """Swap chosen and unchosen cut-tier people of one cell while that lowers (met pairs, members with a tie).

        Takes and returns pool positions. Among equal swaps the person the flow ranks first joins (least cost, then
        rotation order), so the result does not depend on the order of the pool.
        """
        members = np.zeros(len(pool), bool)
        members[positions] = True
        if not (members[self.inner[0]] & members[self.inner[1]]).any():
            return positions  # no two chosen cut-tier people met: the least-cost flow is already exact
        order = np.argsort(self.inner[0], kind="stable")
        neighbours = self.inner[1][order]
        starts = np.searchsorted(self.inner[0][order], np.arange(len(pool) + 1))
        department, level = pool.department.tolist(), pool.level.tolist()
        cells = {}
        for i in due_in_flow_order().tolist():
            cells.setdefault((department[i], level[i]), []).append(i)

        def met(person: int) -> int:
            return int(self.met_fixed[person]) + int(members[neighbours[starts[person] : starts[person + 1]]].sum())

        improved = True
        while improved:
            improved = False
            for slot, leaving in enumerate(positions):
                if starts[leaving] == starts[leaving + 1] or not members[neighbours[starts[leaving] : starts[leaving + 1]]].any():
                    continue
                members[leaving] = False
                before = (met(leaving), self.has_tie[leaving])
                best, best_key = None, (0, 0)
                for joining in cells[(department[leaving], level[leaving])]:
                    if not members[joining] and joining != leaving:
                        key = (met(joining) - before[0], int(self.has_tie[joining]) - int(before[1]))
                        if key < best_key:
                            best, best_key = joining, key
                if best is None:
                    members[leaving] = True
                else:
                    members[best] = True
                    positions[slot] = best
                    improved = True
        return positions
