"""Simulate a year of rounds: planner.rounds.plan_round against today's select, random picks and Donut pairs.

python bench/rounds.py [--seeds 3] [--quick]

The organisation: STAFF people in DEPARTMENT_SHARES (uneven), a level pyramid 0..6, NEWCOMER_RATE
joining and LEAVER_RATE leaving each month. Every month has LUNCHES lunches of LUNCH_SEATS (one table:
everyone meets everyone who came) and one drinks evening of DRINKS_SEATS, seated by
mixing.pair_weights + tables.partition at tables of 6-8. Each invitation is accepted with probability
ACCEPTANCE, with the same number of yeses per event for every method. WARMUP_MONTHS run first with the same method; the
figures are over the YEAR_MONTHS after them.

Methods: plan_round; select as the app uses it today (pool = active staff, recent_invites over the
last LOOKBACK_DAYS, last_invited) in even and proportional mode; random picks (seated like the
others); Donut-style random picks met in random pairs instead of tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from planner.balance import Candidate, select  # noqa: E402
from planner.mixing import Person, pair_weights, table_bounds  # noqa: E402
from planner.network import health  # noqa: E402
from planner.rounds import plan_round  # noqa: E402
from planner.tables import partition  # noqa: E402

STAFF = 400
DEPARTMENT_SHARES = np.array([80, 60, 50, 44, 38, 34, 28, 24, 22, 20])  # ten departments, 20% down to 5% of the staff
LEVEL_SHARES = [0.30, 0.26, 0.19, 0.12, 0.07, 0.04, 0.02]
NEWCOMER_LEVEL_SHARES = [0.45, 0.30, 0.13, 0.07, 0.03, 0.015, 0.005]
NEWCOMER_RATE = 0.02  # of the staff, per month
LEAVER_RATE = 0.015
LUNCH_DAYS, LUNCH_SEATS = (3, 10, 17, 24), 8
DRINKS_DAY, DRINKS_SEATS = 27, 32
ACCEPTANCE = 0.75
LOOKBACK_DAYS = 180  # the app's default look-back for recent_invites
WINDOW_DAYS = 180  # reach, ties and repeat pairs look back this far
NEWCOMER_DAYS = 30
JUNIOR_MAX = 1
WARMUP_MONTHS, YEAR_MONTHS = 6, 12
START = date(2025, 1, 1)
TABLE_SECONDS = 0.1
METHODS = ("plan_round", "select even", "select prop", "random", "donut pairs")

SPEED_PEOPLE, SPEED_K, SPEED_RUNS = 10_000, 100, 9


def month_start(month: int) -> date:
    return date(START.year + month // 12, month % 12 + 1, 1)


class Organisation:
    """Who works here when: the same joins, leaves and answers for every method of one seed."""

    def __init__(self, seed: int, months: int):
        rng = np.random.default_rng(seed)
        self.people: dict[int, Person] = {}
        self.joined: dict[int, date] = {}
        self.left: dict[int, date] = {}
        shares = DEPARTMENT_SHARES / DEPARTMENT_SHARES.sum()
        for _ in range(STAFF):
            self._hire(rng, shares, LEVEL_SHARES, START - timedelta(int(rng.integers(60, 3000))))
        for month in range(months):
            first = month_start(month)
            active = [p for p in self.people if p not in self.left]
            for person in rng.choice(active, rng.binomial(len(active), LEAVER_RATE), replace=False):
                self.left[int(person)] = first + timedelta(int(rng.integers(0, 28)))
            for _ in range(rng.binomial(STAFF, NEWCOMER_RATE)):
                self._hire(rng, shares, NEWCOMER_LEVEL_SHARES, first + timedelta(int(rng.integers(0, 28))))
        self.events = [
            (month_start(month) + timedelta(day - 1), seats)
            for month in range(months)
            for day, seats in (*((d, LUNCH_SEATS) for d in LUNCH_DAYS), (DRINKS_DAY, DRINKS_SEATS))
        ]
        # Common random numbers: every method gets the same number of yeses at an event, from the
        # invitees whose draw for their n-th invitation is lowest (each invitation is accepted with
        # probability ACCEPTANCE, and a person answers their n-th invitation alike under every method).
        self.yeses = [int(rng.binomial(seats, ACCEPTANCE)) for _, seats in self.events]
        self.draws = rng.random((len(self.people), len(self.events)))

    def _hire(self, rng, shares, level_shares, day: date) -> None:
        person = len(self.people)
        department = f"dept-{int(rng.choice(len(shares), p=shares)):02d}"
        self.people[person] = Person(person, department, int(rng.choice(len(level_shares), p=level_shares)))
        self.joined[person] = day

    def active(self, day: date) -> list[int]:
        return [p for p in self.people if self.joined[p] <= day and (p not in self.left or self.left[p] > day)]


class Run:
    """One method through every event: invitations, attendance, seating, who met whom."""

    def __init__(self, org: Organisation, method: str, seed: int, year_start: date, seconds: float = TABLE_SECONDS):
        self.org, self.method, self.year_start, self.seconds = org, method, year_start, seconds
        self.rng = np.random.default_rng(seed + 1000)
        self.invited_on: dict[int, list[date]] = {}
        self.met_on: dict[frozenset, date] = {}
        self.first_cross: dict[int, date] = {}
        self.attended: list[tuple[date, int]] = []
        self.pairs = self.repeats = self.new_cross = self.seats = 0

    def simulate(self) -> Run:
        for index, (day, seats) in enumerate(self.org.events):
            invited = self.invite(day, seats, index)
            draw = {p: self.org.draws[p, len(self.invited_on.get(p, ()))] for p in invited}
            coming = sorted(invited, key=draw.get)[: self.org.yeses[index]]
            for person in invited:
                self.invited_on.setdefault(person, []).append(day)
            self.meet(day, coming, seats == LUNCH_SEATS, index)
        return self

    def invite(self, day: date, seats: int, index: int) -> list[int]:
        active = self.org.active(day)
        if self.method in ("random", "donut pairs"):
            return [int(p) for p in self.rng.choice(active, min(seats, len(active)), replace=False)]
        people = self.org.people
        if self.method == "plan_round":
            candidates = [Candidate(p, people[p].department, people[p].level) for p in active]
            return plan_round(
                candidates, seats, today=day, invited_on=self.invited_on, met_on=self.met_on, joined_on=self.org.joined,
                seed=index,
            )
        since = day - timedelta(LOOKBACK_DAYS)
        candidates = [
            Candidate(
                p, people[p].department, people[p].level,
                sum(d >= since for d in self.invited_on.get(p, ())), max(self.invited_on.get(p, ()), default=None),
            )
            for p in active
        ]
        return select(candidates, seats, mode="even" if self.method == "select even" else "proportional", seed=index)

    def meet(self, day: date, coming: list[int], is_lunch: bool, index: int) -> None:
        if len(coming) < 2:
            return
        if self.method == "donut pairs":
            order = [int(p) for p in self.rng.permutation(coming)]
            groups = [order[i : i + 2] for i in range(0, len(order) - 1, 2)]
            if len(order) % 2:
                groups[-1].append(order[-1])
        elif is_lunch:
            groups = [coming]
        else:
            people = [self.org.people[p] for p in coming]
            weights = pair_weights(people, self.met_on, day)
            tables = -(-len(coming) // 8)
            bounds = table_bounds(len(coming), min_size=min(6, len(coming) // tables))  # e.g. 17 people: 6, 6, 5
            labels = partition(weights, bounds, seconds=self.seconds, seed=index)
            groups = [[p for p, label in zip(coming, labels) if label == g] for g in sorted(set(labels))]
        measured = day >= self.year_start
        since = day - timedelta(WINDOW_DAYS)
        for group in groups:
            for a, b in combinations(group, 2):
                pair = frozenset((a, b))
                cross = self.org.people[a].department != self.org.people[b].department
                if measured:
                    self.pairs += 1
                    self.repeats += pair in self.met_on and self.met_on[pair] > since
                    self.new_cross += cross and pair not in self.met_on
                self.met_on[pair] = day
                if cross:
                    self.first_cross.setdefault(a, day)
                    self.first_cross.setdefault(b, day)
        self.attended += [(day, p) for p in coming]
        self.seats += len(coming) if measured else 0

    def figures(self, end: date) -> dict[str, float]:
        org, since = self.org, end - timedelta(WINDOW_DAYS)
        active = org.active(end)
        staff = set(active)
        present = {p for p in active if org.joined[p] <= self.year_start}
        came = [p for day, p in self.attended if day > since and p in staff]
        reached = set(came)
        juniors = [p for p in active if org.people[p].level <= JUNIOR_MAX]
        ties = [tuple(pair) for pair, day in self.met_on.items() if day > since]
        network = health([org.people[p] for p in active], ties, junior_max=JUNIOR_MAX)
        counts = np.array([sum(d >= self.year_start for d in self.invited_on.get(p, ())) for p in sorted(present)])
        newcomers = [p for p in org.people if self.year_start <= org.joined[p] <= end - timedelta(NEWCOMER_DAYS)
                     and (p not in org.left or org.left[p] > org.joined[p] + timedelta(NEWCOMER_DAYS))]
        welcomed = [p for p in newcomers if p in self.first_cross
                    and self.first_cross[p] <= org.joined[p] + timedelta(NEWCOMER_DAYS)]
        return {
            "reach": len(reached) / len(active),
            "ceiling": min(1.0, len(came) / len(active)),
            "coverage": network.coverage,
            "bridge": network.bridge,
            "junior reach": len(reached.intersection(juniors)) / len(juniors),
            "E-I": network.ei_index,
            "never": float(np.mean(counts == 0)),
            "spread": float(counts.max() - counts.min()),
            "gini": gini(counts),
            "newcomers": len(welcomed) / len(newcomers) if newcomers else float("nan"),
            "repeat": self.repeats / self.pairs if self.pairs else 0.0,
            "new x/seat": self.new_cross / self.seats if self.seats else 0.0,
        }


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative counts (0 = everyone the same)."""
    if len(values) == 0 or values.sum() == 0:
        return 0.0
    ordered = np.sort(values).astype(float)
    ranks = np.arange(1, len(ordered) + 1)
    return float((2 * ranks - len(ordered) - 1) @ ordered / (len(ordered) * ordered.sum()))


GOALS = (
    ("never invited 0", lambda f: f["never"] == 0),
    ("spread <= 2", lambda f: f["spread"] <= 2),
    ("coverage >= 92% of ceiling", lambda f: f["coverage"] >= 0.92 * f["ceiling"]),
    ("bridge >= 90% of junior reach", lambda f: f["bridge"] >= 0.90 * f["junior reach"]),
    ("E-I >= 0.90", lambda f: f["E-I"] >= 0.90),
    ("newcomers >= 65%", lambda f: f["newcomers"] >= 0.65),
    ("repeat pairs <= 1%", lambda f: f["repeat"] <= 0.01),
)


def beats_baselines(results: dict[str, dict[str, float]]) -> bool:
    ours, others = results["plan_round"], [results[m] for m in METHODS[1:]]
    return all(
        ours["coverage"] > o["coverage"] and ours["bridge"] > o["bridge"] and ours["never"] <= o["never"] for o in others
    ) and any(ours["never"] < o["never"] for o in others)


COLUMNS = (
    ("reach", "{:.1%}"), ("ceiling", "{:.1%}"), ("coverage", "{:.1%}"), ("bridge", "{:.1%}"), ("junior reach", "{:.1%}"),
    ("E-I", "{:+.3f}"), ("never", "{:.1%}"), ("spread", "{:.0f}"), ("gini", "{:.3f}"), ("newcomers", "{:.1%}"),
    ("repeat", "{:.2%}"), ("new x/seat", "{:.2f}"),
)


def speed_input(seed: int = 0):
    """10,000 candidates with a year of invitations and half a year of meetings (events of eight)."""
    rng = np.random.default_rng(seed)
    today = date(2026, 11, 26)
    shares = DEPARTMENT_SHARES / DEPARTMENT_SHARES.sum()
    departments = rng.choice(len(shares), SPEED_PEOPLE, p=shares)
    levels = rng.choice(len(LEVEL_SHARES), SPEED_PEOPLE, p=LEVEL_SHARES)
    invited_on = {p: [today - timedelta(int(d)) for d in rng.integers(1, 500, rng.integers(0, 4))] for p in range(SPEED_PEOPLE)}
    met_on = {}
    for _ in range(SPEED_PEOPLE * 3 // 16):  # each person at about 1.5 events of eight
        day = today - timedelta(int(rng.integers(1, 365)))
        for a, b in combinations(rng.choice(SPEED_PEOPLE, 8, replace=False).tolist(), 2):
            met_on[frozenset((a, b))] = day
    joined_on = {p: today - timedelta(int(rng.integers(0, 3000))) for p in range(SPEED_PEOPLE)}
    since = today - timedelta(LOOKBACK_DAYS)
    candidates = [
        Candidate(p, f"dept-{departments[p]:02d}", int(levels[p]), sum(d >= since for d in invited_on[p]),
                  max(invited_on[p], default=None))
        for p in range(SPEED_PEOPLE)
    ]
    return candidates, dict(today=today, invited_on=invited_on, met_on=met_on, joined_on=joined_on)


def median_ms(function, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="organisations simulated (seeds 0..n-1)")
    parser.add_argument("--quick", action="store_true", help="one seed, shorter table search, fewer timed runs")
    args = parser.parse_args()
    seeds, runs, seconds = (1, 3, TABLE_SECONDS / 3) if args.quick else (args.seeds, SPEED_RUNS, TABLE_SECONDS)

    months = WARMUP_MONTHS + YEAR_MONTHS
    year_start, end = month_start(WARMUP_MONTHS), month_start(months) - timedelta(1)
    print(f"{STAFF} staff, {len(DEPARTMENT_SHARES)} departments, levels 0..6; {NEWCOMER_RATE:.0%} join, {LEAVER_RATE:.1%} leave"
          f" a month; {len(LUNCH_DAYS)} lunches of {LUNCH_SEATS} and drinks for {DRINKS_SEATS} a month; {ACCEPTANCE:.0%} accept;"
          f" {WARMUP_MONTHS} months warm-up, then {year_start} .. {end}")
    print("reach/ceiling/coverage/bridge/E-I over the last 180 days; never/spread/gini over staff present all year")
    header = f"{'seed':>4} {'method':<12} " + " ".join(f"{name:>{max(len(name), 8)}}" for name, _ in COLUMNS)
    print(header)
    print("-" * len(header))
    verdicts = []
    for seed in range(seeds):
        org = Organisation(seed, months)
        results = {method: Run(org, method, seed, year_start, seconds).simulate().figures(end) for method in METHODS}
        for method, figures in results.items():
            cells = " ".join(f"{fmt.format(figures[name]):>{max(len(name), 8)}}" for name, fmt in COLUMNS)
            print(f"{seed:>4} {method:<12} {cells}", flush=True)
        ours = results["plan_round"]
        verdicts.append([(goal, check(ours)) for goal, check in GOALS] + [("beats baselines", beats_baselines(results))])
    print("\nplan_round goals per seed:")
    for index, (goal, _) in enumerate(verdicts[0]):
        marks = " ".join("met " if verdict[index][1] else "MISS" for verdict in verdicts)
        print(f"  {goal:<32} {marks}")

    candidates, history = speed_input()
    ours = median_ms(lambda: plan_round(candidates, SPEED_K, **history), runs)
    theirs = median_ms(lambda: select(candidates, SPEED_K), runs)
    print(f"\nspeed, {SPEED_PEOPLE:,} candidates, k={SPEED_K}, {len(history['met_on']):,} met pairs, median of {runs}:"
          f" plan_round {ours:.1f} ms, select {theirs:.1f} ms, ratio {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
