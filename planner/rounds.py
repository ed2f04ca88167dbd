"""Who to invite to this round of a series or an event: turns first, then the mix, then new acquaintances.

Turns. A person's tier is their number of invitations in the past year (dates in
(today - 365 days, today]); a newcomer (joined in the last 30 days, never invited) is tier -1.
The seats left by the `must` people go to the lowest tiers: every tier below the cut tier is in,
and the cut tier, the first one that no longer fits whole, is where the choice happens.

Mix. The people whose turn it is (must people, the tiers below the cut, the cut tier) are the
pool; `balance.select_by_cost` takes a minimum-deviation selection of min(k, n) from it with all
but the cut tier as must, so the deviation is exactly the best these people allow.

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

from .balance import Candidate, select_by_cost

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
    since = today - timedelta(days=YEAR_DAYS)
    joined_after = today - timedelta(days=NEWCOMER_DAYS)
    tiers = dict.fromkeys([person.id for person in candidates], 0)
    for person, joined in joined_on.items():
        if person in tiers and joined_after < joined <= today and not invited_on.get(person):
            tiers[person] = NEWCOMER
    for person, dates in invited_on.items():
        if person in tiers and dates:
            tiers[person] = len([day for day in dates if since < day <= today])
    return tiers


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
    must_ids = _checked_must(candidates, k, must)
    size = min(k, len(candidates))
    tiers = turn_counts(candidates, today=today, invited_on=invited_on, joined_on=joined_on)
    cut = _cut_tier(Counter(tiers[p.id] for p in candidates if p.id not in must_ids), size - len(must_ids))
    fixed = [p for p in candidates if p.id in must_ids or tiers[p.id] < cut]
    tier = [p for p in candidates if p.id not in must_ids and tiers[p.id] == cut]
    history = _History(candidates, fixed, tier, met_on, today)
    seats = size - len(fixed)
    costs = [0] * len(fixed) + history.costs(tier, invited_on, today, seats)
    chosen = select_by_cost([*fixed, *tier], size, costs, must=[p.id for p in fixed], mode=MODE, seed=seed)
    return history.improve(chosen, tier) if history.inner else chosen


def _checked_must(candidates: Sequence[Candidate], k: int, must: Collection[Hashable]) -> set[Hashable]:
    ids = [person.id for person in candidates]
    if len(set(ids)) != len(ids):
        repeated = sorted(repr(person) for person, count in Counter(ids).items() if count > 1)
        raise ValueError(f"duplicate candidate ids: {', '.join(repeated)}")
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    must_ids = set(must)
    unknown = must_ids - set(ids)
    if unknown:
        raise ValueError(f"must ids are not among the candidates: {', '.join(sorted(map(repr, unknown)))}")
    if len(must_ids) > k:
        raise ValueError(f"{len(must_ids)} people must be invited but only k={k} seats exist")
    return must_ids


def _cut_tier(tier_sizes: Counter, seats: int) -> float:
    """The lowest tier that does not fit whole into the seats (infinity when everyone fits)."""
    for tier in sorted(tier_sizes):
        if tier_sizes[tier] > seats:
            return tier
        seats -= tier_sizes[tier]
    return float("inf")


class _History:
    """Who met whom lately, as far as the cut tier's choice needs it."""

    def __init__(self, candidates, fixed, tier, met_on, today):
        department = {person.id: person.department for person in candidates}
        fixed_ids, tier_ids = {p.id for p in fixed}, {p.id for p in tier}
        since = today - timedelta(days=TIE_DAYS)
        self.met_fixed = Counter()  # cut-tier person -> fixed people they met
        self.inner = {}  # cut-tier person -> cut-tier people they met
        self.has_tie = set()  # cut-tier people (and some others) with a tie outside their department
        recent = [pair for pair, day in met_on.items() if since < day <= today]
        for pair in recent:
            if tier_ids.isdisjoint(pair) or len(pair) != 2:
                continue
            a, b = pair
            if a not in department or b not in department:
                continue
            if department[a] != department[b]:
                self.has_tie.update(pair)
            if a in tier_ids and b in tier_ids:
                self.inner.setdefault(a, set()).add(b)
                self.inner.setdefault(b, set()).add(a)
            elif a in fixed_ids or b in fixed_ids:
                self.met_fixed[a if a in tier_ids else b] += 1

    def costs(self, tier, invited_on, today, seats) -> list[int]:
        """Each cut-tier person's cost: fixed people met, then an existing tie, then how recently last invited."""
        last = [max(invited_on.get(p.id, ()), default=None) for p in tier]
        oldest = min((day for day in last if day is not None), default=today)
        recency = [0 if day is None else (day - oldest).days + 1 for day in last]
        base = seats * max(recency, default=0) + 1  # one more tie outweighs any sum of recencies
        return [
            (self.met_fixed[p.id] * (seats + 1) + (p.id in self.has_tie)) * base + recent
            for p, recent in zip(tier, recency)
        ]

    def met(self, person, chosen: set) -> int:
        """How many of the chosen people this cut-tier person met."""
        return self.met_fixed[person] + len(chosen.intersection(self.inner.get(person, ())))

    def improve(self, chosen: list[Hashable], tier: Sequence[Candidate]) -> list[Hashable]:
        """Swap chosen and unchosen cut-tier people of one cell while that lowers (met pairs, members with a tie)."""
        cell_of = {p.id: (p.department, p.level) for p in tier}
        cells = {}
        for person in tier:
            cells.setdefault(cell_of[person.id], []).append(person.id)
        members = set(chosen)
        improved = True
        while improved:
            improved = False
            for position, leaving in enumerate(chosen):
                if leaving not in cell_of or not self.inner.get(leaving, set()) & members:
                    continue
                staying = members - {leaving}
                before = (self.met(leaving, staying), leaving in self.has_tie)
                best, best_key = None, (0, 0)
                for joining in cells[cell_of[leaving]]:
                    if joining in members:
                        continue
                    after = (self.met(joining, staying), joining in self.has_tie)
                    key = (after[0] - before[0], after[1] - before[1])
                    if key < best_key:
                        best, best_key = joining, key
                if best is not None:
                    chosen[position] = best
                    members = staying | {best}
                    improved = True
        return chosen
