"""Measure planner.tables.partition on published MDGP instances against a random-shuffle baseline.

python bench/tables.py [--evaluation] [--sizes 120,240] [--quick] [--budget-scale 1.0] [--only partition|baseline]

Tuning set: index 01-05 at n <= 120 and the _01 files at 240/480; evaluation set: 06-10 and _06.
The reference is the proven optimum (n = 10, 12) or the best-known value (n >= 120); the gap is
(reference - value) / reference. Budgets per size follow the published ones (3 s at 120, 20 s at
240, 120 s at 480); smaller sizes get 1 s. The baseline is Lunch-Roulette style: the best of
random feasible splits drawn until the same budget runs out.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from planner.tables import objective, partition  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mdgp"
BUDGETS = {120: 3.0, 240: 20.0, 480: 120.0, 960: 600.0}
SHORT_BUDGET = 1.0


def read_instance(path: Path) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Return the weight matrix and group bounds stored in one MDGPLIB file."""
    lines = path.read_text().split("\n")
    header = lines[0].split()
    n, group_count = int(header[0]), int(header[1])
    limits = [int(value) for value in header[3 : 3 + 2 * group_count]]
    bounds = list(zip(limits[::2], limits[1::2]))
    pairs = np.loadtxt(lines[1:], ndmin=2)
    matrix = np.zeros((n, n))
    rows, cols = pairs[:, 0].astype(int), pairs[:, 1].astype(int)
    matrix[rows, cols] = matrix[cols, rows] = pairs[:, 2]
    return matrix, bounds


def references() -> dict[str, float]:
    """Return the proven optimum or best-known value of every instance that has one."""
    known = {}
    for name, column in (("exact_optima_small.csv", "optimum"), ("best_known.csv", "best_known")):
        with open(DATA / name, newline="") as handle:
            known.update({row["instance"]: float(row[column]) for row in csv.DictReader(handle)})
    return known


def selected(evaluation: bool, sizes: set[int] | None) -> list[Path]:
    """Return the instance files of the tuning or evaluation set, smallest first."""
    small, large = ({"06", "07", "08", "09", "10"}, {"06"}) if evaluation else ({"01", "02", "03", "04", "05"}, {"01"})
    chosen = []
    for path in sorted((DATA / "instances").glob("*/*.txt")):
        n, index = re.search(r"_n(\d+)_\w\w_(\d+)$", path.stem).groups()
        n = int(n)
        if (sizes is None or n in sizes) and index in (large if n >= 240 else small):
            chosen.append((n, path.stem, path))
    return [path for _, _, path in sorted(chosen)]


def random_shuffles(matrix, bounds, seconds: float, seed: int) -> list[int]:
    """Return the best of random feasible splits (random sizes, random people) drawn for `seconds`."""
    deadline = time.perf_counter() + seconds
    rng = np.random.default_rng(seed)
    lower, upper = np.array(bounds).T
    n = len(matrix)
    best, best_value = None, -np.inf
    while best is None or time.perf_counter() < deadline:
        sizes = lower.copy()
        for _ in range(n - sizes.sum()):
            room = np.flatnonzero(sizes < upper)
            sizes[room[rng.integers(len(room))]] += 1
        labels = rng.permutation(np.repeat(np.arange(len(bounds)), sizes))
        value = objective(matrix, labels)
        if value > best_value:
            best, best_value = labels, value
    return best.tolist()


def main() -> None:
    """Run the chosen set and print one row per instance and the mean gap per size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--evaluation", action="store_true", help="run the evaluation set (default: tuning)")
    parser.add_argument("--sizes", help="comma-separated n to keep, e.g. 120,240")
    parser.add_argument("--quick", action="store_true", help="one instance per size and class, a tenth of the budget")
    parser.add_argument("--budget-scale", type=float, default=1.0, help="multiply every budget")
    parser.add_argument("--only", choices=["partition", "baseline"], help="run one method (default: both)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"no instances at {DATA}")
    sizes = {int(size) for size in args.sizes.split(",")} if args.sizes else None
    paths = selected(args.evaluation, sizes)
    scale = args.budget_scale * (0.1 if args.quick else 1.0)
    if args.quick:
        first_of = {}
        for path in paths:
            first_of.setdefault(re.sub(r"_\d+$", "", path.stem), path)
        paths = list(first_of.values())
    known = references()
    methods = {
        "partition": lambda m, b, s: partition(m, b, seconds=s, seed=args.seed),
        "baseline (best random shuffle)": lambda m, b, s: random_shuffles(m, b, s, args.seed),
    }
    if args.only:
        methods = {label: solve for label, solve in methods.items() if label.startswith(args.only)}
    print(f"{'set':>10}: {'evaluation' if args.evaluation else 'tuning'}, budget scale {scale:g}, seed {args.seed}")
    values = defaultdict(dict)
    for label, solve in methods.items():
        gaps = defaultdict(list)
        print(f"\n## {label}\n{'instance':<22} {'value':>14} {'reference':>14} {'gap %':>8} {'time s':>7}")
        for path in paths:
            matrix, bounds = read_instance(path)
            budget = BUDGETS.get(len(matrix), SHORT_BUDGET) * scale
            started = time.perf_counter()
            labels = solve(matrix, bounds, budget)
            elapsed = time.perf_counter() - started
            sizes_ok = all(lo <= labels.count(g) <= hi for g, (lo, hi) in enumerate(bounds))
            value = objective(matrix, labels)
            values[path.stem][label] = value
            reference = known.get(path.stem)
            gap = "-" if reference is None else f"{round(100 * (reference - value) / reference, 3) + 0.0:8.3f}"
            if reference is not None:
                gaps[len(matrix)].append(100 * (reference - value) / reference)
            flag = "" if sizes_ok else "  INFEASIBLE"
            print(f"{path.stem:<22} {value:14.3f} {'-' if reference is None else f'{reference:.3f}':>14} {gap:>8} {elapsed:7.2f}{flag}", flush=True)
        print(f"\n{label}: mean gap % per size")
        for n in sorted(gaps):
            print(f"  n={n:<4} {round(np.mean(gaps[n]), 3) + 0.0:7.3f}  over {len(gaps[n])} instances (max {np.max(gaps[n]):.3f})")
    if len(methods) == 2:
        print("\npartition above baseline: mean % per size")
        above = defaultdict(list)
        for name, by_method in values.items():
            ours, theirs = by_method.values()
            above[int(re.search(r"_n(\d+)_", name).group(1))].append(100 * (ours - theirs) / theirs)
        for n in sorted(above):
            print(f"  n={n:<4} {np.mean(above[n]):7.2f}")


if __name__ == "__main__":
    main()
