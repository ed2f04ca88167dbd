"""Tests for planner.tables: feasibility, exactness on small inputs, pins, budget and determinism."""

import csv
import itertools
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.tables import EXACT_MAX_N, objective, partition

MDGP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mdgp"


def random_weights(n, seed, integer=False):
    rng = np.random.default_rng(seed)
    upper = rng.integers(0, 10, (n, n)) if integer else rng.random((n, n))
    weights = np.triu(upper, 1).astype(float)
    return weights + weights.T


def brute_force(weights, bounds):
    best = -1.0
    for labels in itertools.product(range(len(bounds)), repeat=len(weights)):
        counts = np.bincount(labels, minlength=len(bounds))
        if all(lo <= c <= hi for c, (lo, hi) in zip(counts, bounds)):
            best = max(best, objective(weights, labels))
    return best


def fits(labels, bounds, n):
    counts = np.bincount(labels, minlength=len(bounds)) if labels else np.zeros(len(bounds), int)
    return len(labels) == n and all(lo <= c <= hi for c, (lo, hi) in zip(counts, bounds))


@st.composite
def feasible_problems(draw):
    group_count = draw(st.integers(1, 6))
    bounds = []
    for _ in range(group_count):
        low = draw(st.integers(0, 6))
        bounds.append((low, low + draw(st.integers(0, 5))))
    n = draw(st.integers(sum(lo for lo, _ in bounds), sum(hi for _, hi in bounds)))
    return n, bounds, draw(st.integers(0, 1000))


@settings(max_examples=60, deadline=None)
@given(feasible_problems())
def test_every_result_fits_the_bounds(problem):
    n, bounds, seed = problem
    labels = partition(random_weights(n, seed), bounds, seconds=0.05, seed=seed)
    assert fits(labels, bounds, n)


@pytest.mark.parametrize("n", [13, 30, 61])
def test_larger_inputs_fit_the_bounds(n):
    bounds = [(2, 9), (0, 4), (5, 20), (3, 3), (1, 30)]
    labels = partition(random_weights(n, n), bounds, seconds=0.2)
    assert fits(labels, bounds, n)


@pytest.mark.parametrize(
    "n, bounds",
    [
        (10, [(2, 3), (2, 3)]),  # too little room
        (3, [(2, 3), (2, 3)]),  # too few people
        (4, [(3, 2), (0, 4)]),  # min above max
        (4, [(-1, 4)]),  # negative
        (4, []),  # no groups
    ],
)
def test_impossible_bounds_raise(n, bounds):
    with pytest.raises(ValueError):
        partition(random_weights(n, 0), bounds)


def test_bad_weights_raise():
    with pytest.raises(ValueError):
        partition([[0, 1], [2, 0]], [(1, 1), (1, 1)])
    with pytest.raises(ValueError):
        partition([[0, 1, 2], [1, 0, 3]], [(0, 3)])
    with pytest.raises(ValueError):
        partition([[0, -1], [-1, 0]], [(0, 2)])


def test_degenerate_inputs():
    assert partition([], [(0, 3)]) == []
    assert partition(np.zeros((0, 0)), [(0, 0), (0, 2)]) == []
    assert partition(random_weights(5, 1), [(0, 9)]) == [0] * 5
    assert partition(random_weights(14, 1), [(0, 20)], seconds=0.1) == [0] * 14
    labels = partition(random_weights(4, 2), [(0, 0), (2, 2), (0, 5)])
    assert fits(labels, [(0, 0), (2, 2), (0, 5)], 4) and 0 not in labels


@pytest.mark.parametrize("seed", range(6))
def test_exact_on_tiny_inputs(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 9))
    bounds = [(1, 4), (0, 3), (2, 5)]
    weights = random_weights(n, seed, integer=seed % 2 == 0)
    labels = partition(weights, bounds, seconds=1.0, seed=seed)
    assert fits(labels, bounds, n)
    assert objective(weights, labels) == pytest.approx(brute_force(weights, bounds))


def test_search_matches_brute_force_just_above_the_exact_size():
    n = EXACT_MAX_N + 1
    weights = random_weights(n, 7)
    bounds = [(6, 6), (7, 7)]
    best = max(
        objective(weights, [0 if i in chosen else 1 for i in range(n)])
        for chosen in itertools.combinations(range(n), 6)
    )
    assert objective(weights, partition(weights, bounds, seconds=0.5)) == pytest.approx(best)


def small_instances():
    table = MDGP / "exact_optima_small.csv"
    if not table.exists():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"MDGP data not found at {MDGP}"))]
    with open(table, newline="") as handle:
        return [(row["instance"], float(row["optimum"])) for row in csv.DictReader(handle)]


def read_instance(name):
    lines = (MDGP / "instances" / name.split("_")[0] / f"{name}.txt").read_text().split("\n")
    header = lines[0].split()
    n, group_count = int(header[0]), int(header[1])
    limits = [int(value) for value in header[3 : 3 + 2 * group_count]]
    weights = np.zeros((n, n))
    for line in lines[1:]:
        if line.strip():
            i, j, value = line.split()
            weights[int(i), int(j)] = weights[int(j), int(i)] = float(value)
    return weights, list(zip(limits[::2], limits[1::2]))


@pytest.mark.parametrize("name, optimum", small_instances())
def test_published_small_instances_reach_the_optimum(name, optimum):
    weights, bounds = read_instance(name)
    labels = partition(weights, bounds, seconds=1.0)
    assert fits(labels, bounds, len(weights))
    assert objective(weights, labels) == pytest.approx(optimum, abs=1e-3)


@pytest.mark.parametrize("n", [8, 40])
def test_pins_are_kept(n):
    bounds = [(2, n), (2, n), (2, n), (1, n)]
    pinned = {0: 3, 1: 3, 2: 0, n - 1: 1}
    labels = partition(random_weights(n, n), bounds, seconds=0.2, pinned=pinned)
    assert fits(labels, bounds, n)
    assert all(labels[element] == group for element, group in pinned.items())


@pytest.mark.parametrize(
    "pinned",
    [{0: 0, 1: 0, 2: 0}, {9: 0}, {0: 5}, {-1: 0}],
)
def test_impossible_pins_raise(pinned):
    with pytest.raises(ValueError):
        partition(random_weights(6, 0), [(2, 2), (4, 4)], pinned=pinned)


def test_same_seed_same_answer_on_small_inputs():
    weights = random_weights(11, 3)
    bounds = [(3, 4)] * 3
    assert partition(weights, bounds, seed=5) == partition(weights, bounds, seed=5)


def test_same_seed_same_search_when_time_is_ample():
    weights = random_weights(16, 8)
    bounds = [(8, 8), (8, 8)]
    assert partition(weights, bounds, seconds=0.3, seed=2) == partition(weights, bounds, seconds=0.3, seed=2)


def test_search_stops_near_its_budget():
    weights = random_weights(200, 4)
    started = time.perf_counter()
    labels = partition(weights, [(20, 20)] * 10, seconds=0.3)
    assert time.perf_counter() - started < 0.3 + 5.0  # generous slack: the machine is shared
    assert fits(labels, [(20, 20)] * 10, 200)


def test_no_time_still_gives_a_valid_split():
    bounds = [(5, 9)] * 4
    assert fits(partition(random_weights(30, 6), bounds, seconds=0.0), bounds, 30)


def test_search_improves_on_random_splits():
    weights = random_weights(60, 5)
    bounds = [(10, 10)] * 6
    rng = np.random.default_rng(0)
    shuffles = [objective(weights, rng.permutation(np.repeat(range(6), 10))) for _ in range(200)]
    assert objective(weights, partition(weights, bounds, seconds=0.5)) > max(shuffles)


def test_importing_does_not_import_flask():
    code = "import sys, planner.tables, planner.mixing; assert 'flask' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
