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

from collections import Counter
from collections.abc import Collection, Hashable, Mapping, Sequence
from datetime import date, timedelta
from itertools import chain, repeat

import numpy as np

from .balance import DEPARTMENTS, IDS, Candidate, rotation_order, select_by_cost

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
    turns = _Turns(candidates, today, invited_on, joined_on)
    return dict(zip(map(IDS, candidates), turns.tier.tolist()))


class _Turns:
    """Each candidate's tier and last invitation (an ordinal, 0 when never), counted in bulk."""

    def __init__(self, candidates, today, invited_on, joined_on):
        ids = list(map(IDS, candidates))
        dates = list(map(invited_on.get, ids, repeat((), len(ids))))
        sizes = np.fromiter(map(len, dates), np.int64, len(ids))
        days = np.fromiter(map(date.toordinal, chain.from_iterable(dates)), np.int64, int(sizes.sum()))
        owner = np.repeat(np.arange(len(ids)), sizes)
        now = today.toordinal()
        inside = (days > now - YEAR_DAYS) & (days <= now)
        self.tier = np.bincount(owner[inside], minlength=len(ids))
        joined = np.fromiter(map(date.toordinal, map(joined_on.get, ids, repeat(date.min, len(ids)))), np.int64, len(ids))
        self.tier[(sizes == 0) & (joined > now - NEWCOMER_DAYS) & (joined <= now)] = NEWCOMER
        self.last = np.zeros(len(ids), np.int64)
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
    index = _index(candidates)
    must_ids = _checked_must(index, k, must)
    turns = _Turns(candidates, today, invited_on, joined_on)
    is_must = np.zeros(len(candidates), bool)
    is_must[[index[person] for person in must_ids]] = True
    size = min(k, len(candidates))
    cut = _cut_tier(turns.tier[~is_must], size - len(must_ids))
    fixed = np.flatnonzero(is_must | (turns.tier < cut))
    due = np.flatnonzero(~is_must & (turns.tier == cut))
    pool = [candidates[i] for i in (*fixed.tolist(), *due.tolist())]
    known = _Acquaintances(candidates, index, fixed, due, met_on, today)
    due_costs = known.costs(due, turns.last[due], size - len(fixed))
    costs = [0] * len(fixed) + due_costs.tolist()
    chosen = select_by_cost(pool, size, costs, must=[candidates[i].id for i in fixed], mode=MODE, seed=seed)

    def due_in_flow_order() -> np.ndarray:
        """The cut tier as the flow ranks it: by cost, then rotation order."""
        place = {person: n for n, person in enumerate(rotation_order(pool[len(fixed):], seed))}
        rotation = np.fromiter((place[candidates[i].id] for i in due.tolist()), np.int64, len(due))
        return due[np.lexsort((rotation, due_costs))]

    return known.improve(chosen, candidates, index, due_in_flow_order)


class _Positions(dict):
    """Candidate id -> position in the candidate list; -1 for anyone else."""

    def __missing__(self, person: Hashable) -> int:
        return -1


def _index(candidates: Sequence[Candidate]) -> _Positions:
    index = _Positions(zip(map(IDS, candidates), range(len(candidates))))
    if len(index) != len(candidates):
        repeated = sorted(repr(person) for person, count in Counter(p.id for p in candidates).items() if count > 1)
        raise ValueError(f"duplicate candidate ids: {', '.join(repeated)}")
    return index


def _checked_must(index: Mapping[Hashable, int], k: int, must: Collection[Hashable]) -> set[Hashable]:
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    must_ids = set(must)
    unknown = [person for person in must_ids if person not in index]
    if unknown:
        raise ValueError(f"must ids are not among the candidates: {', '.join(sorted(map(repr, unknown)))}")
    if len(must_ids) > k:
        raise ValueError(f"{len(must_ids)} people must be invited but only k={k} seats exist")
    return must_ids


def _cut_tier(tiers: np.ndarray, seats: int) -> float:
    """The lowest tier that does not fit whole into the seats (infinity when everyone fits)."""
    values, sizes = np.unique(tiers, return_counts=True)
    over = np.flatnonzero(np.cumsum(sizes) > seats)
    return int(values[over[0]]) if len(over) else float("inf")


class _Acquaintances:
    """Who met whom lately (pairs of candidate positions), as far as the choice inside the cut tier needs it."""

    def __init__(self, candidates, index, fixed, due, met_on, today):
        count = len(candidates)
        since = today - timedelta(days=TIE_DAYS)
        recent = [pair for pair, day in met_on.items() if since < day <= today]
        if set(map(len, recent)) - {2}:
            recent = [pair for pair in recent if len(pair) == 2]
        ends = np.fromiter(map(index.__getitem__, chain.from_iterable(recent)), np.int64, 2 * len(recent)).reshape(-1, 2)
        a, b = ends[(ends >= 0).all(axis=1)].T
        role = np.zeros(count, np.int8)  # 1 fixed, 2 due (the cut tier)
        role[fixed], role[due] = 1, 2
        touching = (role[a] == 2) | (role[b] == 2)
        a, b = a[touching], b[touching]
        names = list(map(DEPARTMENTS, candidates))
        code = {name: c for c, name in enumerate(dict.fromkeys(names))}
        department = np.fromiter(map(code.__getitem__, names), np.int64, count)
        cross = department[a] != department[b]
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

    def improve(self, chosen: list[Hashable], candidates, index, due_in_flow_order) -> list[Hashable]:
        """Swap chosen and unchosen cut-tier people of one cell while that lowers (met pairs, members with a tie).

        Among equal swaps the person the flow ranks first joins (least cost, then rotation order), so the result
        does not depend on the order of the candidate list.
        """
        members = np.zeros(len(candidates), bool)
        members[[index[person] for person in chosen]] = True
        if not (members[self.inner[0]] & members[self.inner[1]]).any():
            return chosen  # no two chosen cut-tier people met: the least-cost flow is already exact
        order = np.argsort(self.inner[0], kind="stable")
        neighbours = self.inner[1][order]
        starts = np.searchsorted(self.inner[0][order], np.arange(len(candidates) + 1))
        cells = {}
        for i in due_in_flow_order().tolist():
            cells.setdefault((candidates[i].department, candidates[i].level), []).append(i)
        positions = [index[person] for person in chosen]

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
                for joining in cells[(candidates[leaving].department, candidates[leaving].level)]:
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
        return [candidates[i].id for i in positions]
