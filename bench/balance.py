"""Measure planner.balance.select against an ILP oracle and a Lunch-Roulette baseline, in the same run.

python bench/balance.py [--quick] [--mode even|proportional] [--runs 5]

Directories are synthetic: department sizes follow a Zipf-like law, levels a pyramid, and people
carry realistic recent_invites / last_invited. For every directory size and k the table shows
select's median wall time, the time scipy's MILP (HiGHS) needs for the same optimum over
department x level cell counts (counting the cells included), the deviation of both, and the
best deviation among 1,000 uniformly random selections of k people (Lunch-Roulette style).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from planner.balance import Candidate, deviation, select, targets  # noqa: E402

TODAY = date(2026, 11, 26)
LEVEL_SHARES = [0.30, 0.26, 0.19, 0.12, 0.07, 0.04, 0.02]


def directory(size: int, seed: int = 0) -> list[Candidate]:
    """A synthetic staff list: skewed departments, a level pyramid, an invitation history."""
    rng = np.random.default_rng(seed)
    departments = max(4, int(size**0.5 / 3))
    dept_shares = 1 / np.arange(1, departments + 1) ** 1.1
    dept = rng.choice(departments, size, p=dept_shares / dept_shares.sum())
    level = rng.choice(len(LEVEL_SHARES), size, p=LEVEL_SHARES)
    recent = rng.poisson(0.8, size)
    days_ago = rng.integers(1, 365, size)
    never = (recent == 0) & (rng.random(size) < 0.6)
    return [
        Candidate(
            f"p{i:05d}",
            f"dept-{dept[i]:02d}",
            int(level[i]),
            int(recent[i]),
            None if never[i] else TODAY - timedelta(int(days_ago[i])),
        )
        for i in range(size)
    ]


def ilp_deviation(candidates: list[Candidate], k: int, mode: str) -> float:
    """The minimum deviation by mixed-integer programming over department x level cell counts."""
    dept_target, level_target = targets(candidates, k, mode)
    departments, levels = sorted(dept_target), sorted(level_target)
    counts = np.zeros((len(departments), len(levels)))
    dept_of = {d: i for i, d in enumerate(departments)}
    level_of = {l: i for i, l in enumerate(levels)}
    for person in candidates:
        counts[dept_of[person.department], level_of[person.level]] += 1
    cells = np.argwhere(counts > 0)
    groups = len(departments) + len(levels)
    membership = np.zeros((groups, len(cells)))
    membership[cells[:, 0], np.arange(len(cells))] = 1
    membership[len(departments) + cells[:, 1], np.arange(len(cells))] = 1
    goal = np.array([dept_target[d] for d in departments] + [level_target[l] for l in levels])
    slack = np.eye(groups)
    total_row = np.r_[np.ones(len(cells)), np.zeros(groups)][None, :]
    rows = np.block([[total_row], [membership, -slack], [-membership, -slack]])
    size = min(k, len(candidates))
    result = milp(
        np.r_[np.zeros(len(cells)), np.ones(groups)],
        constraints=LinearConstraint(rows, np.r_[size, np.full(2 * groups, -np.inf)], np.r_[size, goal, -goal]),
        bounds=Bounds(0, np.r_[counts[cells[:, 0], cells[:, 1]], np.full(groups, np.inf)]),
        integrality=np.r_[np.ones(len(cells)), np.zeros(groups)],
        options={"presolve": False},  # HiGHS presolve fails on some tiny instances
    )
    return result.fun


def roulette_deviation(candidates: list[Candidate], k: int, mode: str, samples: int = 1000) -> float:
    """The best deviation among `samples` uniformly random selections of k people."""
    rng = np.random.default_rng(0)
    size = min(k, len(candidates))
    dept_target, level_target = targets(candidates, k, mode)
    dept_code = {d: i for i, d in enumerate(dept_target)}
    level_code = {l: i for i, l in enumerate(level_target)}
    depts = np.array([dept_code[p.department] for p in candidates])
    levels = np.array([level_code[p.level] for p in candidates])
    picks = np.array([rng.choice(len(candidates), size, replace=False) for _ in range(samples)])
    total = np.zeros(samples)
    for codes, target in ((depts, dept_target), (levels, level_target)):
        goal = np.array(list(target.values()))
        rows = np.repeat(np.arange(samples), size)
        counts = np.bincount(rows * len(goal) + codes[picks].ravel(), minlength=samples * len(goal))
        total += np.abs(counts.reshape(samples, len(goal)) - goal).sum(axis=1)
    return float(total.min())


def median_ms(function, runs: int) -> float:
    """Median wall time of `runs` calls in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small directories, two k values, one run each")
    parser.add_argument("--mode", default="even", choices=["even", "proportional"])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per cell (median reported)")
    args = parser.parse_args()
    if args.quick:
        sizes, ks, runs = (300, 1000), (8, 30), 1
    else:
        sizes, ks, runs = (1000, 10_000, 50_000), (8, 30, 100, 200), args.runs

    columns = ("people", 7), ("depts", 5), ("k", 4), ("select ms", 10), ("ILP ms", 8), ("dev select", 10)
    header = " ".join(f"{name:>{width}}" for name, width in (*columns, ("dev ILP", 8), ("dev roulette", 12)))
    print(f"mode={args.mode}; select: median of {runs} runs; ILP: median of {min(runs, 3)}; roulette: best of 1,000")
    print(header)
    print("-" * len(header))
    for size in sizes:
        candidates = directory(size)
        departments = len({p.department for p in candidates})
        for k in ks:
            ours = median_ms(lambda: select(candidates, k, mode=args.mode), runs)
            oracle = median_ms(lambda: ilp_deviation(candidates, k, args.mode), min(runs, 3))
            ours_deviation = deviation(candidates, select(candidates, k, mode=args.mode), k, args.mode)
            oracle_deviation = ilp_deviation(candidates, k, args.mode)
            roulette = roulette_deviation(candidates, k, args.mode)
            print(
                f"{size:>7} {departments:>5} {k:>4} {ours:>10.1f} {oracle:>8.1f} {ours_deviation:>10.3f}"
                f" {oracle_deviation:>8.3f} {roulette:>12.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
