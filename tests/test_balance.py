"""planner.balance: exact optimality against brute force and an ILP, rotation fairness, errors."""

import itertools
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from planner.balance import (
    Candidate,
    Columns,
    best_cell_deviation,
    best_deviation,
    cell_deviation,
    cell_targets,
    deviation,
    draw,
    replacement,
    rotation_indices,
    rotation_order,
    select,
    select_by_cost,
    targets,
)

MODES = ["even", "proportional"]
DAY0 = date(2026, 1, 1)


# ---------------------------------------------------------------- oracles


def ilp_best_deviation(candidates, k, must=(), mode="even"):
    """Minimum deviation by integer programming over cell counts (scipy's HiGHS)."""
    size = min(k, len(candidates))
    dept_target, level_target = targets(candidates, k, mode)
    cells = sorted(Counter((c.department, c.level) for c in candidates).items())
    must_cells = Counter((c.department, c.level) for c in candidates if c.id in set(must))
    groups = [("d", d, t) for d, t in dept_target.items()] + [("l", l, t) for l, t in level_target.items()]
    n_cells, n_groups = len(cells), len(groups)
    # variables: one count per cell, then one absolute deviation per group
    cost = np.r_[np.zeros(n_cells), np.ones(n_groups)]
    rows, lower, upper = [np.r_[np.ones(n_cells), np.zeros(n_groups)]], [size], [size]
    for g, (kind, group, target) in enumerate(groups):
        member = np.array([(cell[0] if kind == "d" else cell[1]) == group for cell, _ in cells], dtype=float)
        slack = np.zeros(n_groups)
        slack[g] = 1
        rows += [np.r_[member, -slack], np.r_[-member, -slack]]
        lower += [-np.inf, -np.inf]
        upper += [target, -target]
    low = [must_cells[cell] for cell, _ in cells] + [0] * n_groups
    high = [count for _, count in cells] + [np.inf] * n_groups
    result = milp(
        cost,
        constraints=LinearConstraint(np.array(rows), lower, upper),
        bounds=Bounds(low, high),
        integrality=np.r_[np.ones(n_cells), np.zeros(n_groups)],
        options={"presolve": False},  # HiGHS presolve reports a solve error on some tiny instances
    )
    assert result.success
    return result.fun


def brute_force(candidates, k, must=(), mode="even", seed=0):
    """(deviation, sum of rotation positions) of the lexicographically best subset containing must."""
    size = min(k, len(candidates))
    position = {person: p for p, person in enumerate(rotation_order(candidates, seed))}
    free = [c.id for c in candidates if c.id not in set(must)]
    return min(
        (round(deviation(candidates, [*must, *rest], k, mode), 9), sum(position[i] for i in rest))
        for rest in itertools.combinations(free, size - len(set(must)))
    )


# ---------------------------------------------------------------- data


def make(spec):
    """Candidates from (department, level, recent_invites, days since DAY0 or None) tuples."""
    return [
        Candidate(i, dept, level, recent, None if days is None else DAY0 + timedelta(days))
        for i, (dept, level, recent, days) in enumerate(spec)
    ]


def skewed_pool(rng, size, departments=6, levels=4):
    dept_weights = 1 / np.arange(1, departments + 1) ** 1.5
    level_weights = 1 / np.arange(1, levels + 1)
    return [
        Candidate(
            i,
            f"dept{rng.choice(departments, p=dept_weights / dept_weights.sum())}",
            int(rng.choice(levels, p=level_weights / level_weights.sum())),
            int(rng.integers(0, 4)),
            None if rng.random() < 0.3 else DAY0 + timedelta(int(rng.integers(0, 200))),
        )
        for i in range(size)
    ]


person = st.tuples(
    st.sampled_from(["eng", "eng", "eng", "ops", "ops", "hr"]),
    st.sampled_from([0, 0, 0, 1, 1, 2]),
    st.integers(0, 2),
    st.one_of(st.none(), st.integers(0, 3)),
)


@st.composite
def problems(draw, max_people=30):
    candidates = make(draw(st.lists(person, max_size=max_people)))
    k = draw(st.integers(0, len(candidates) + 2))
    ids = [c.id for c in candidates]
    must = draw(st.lists(st.sampled_from(ids), max_size=min(k, len(ids)), unique=True)) if ids else []
    return candidates, k, must, draw(st.sampled_from(MODES)), draw(st.integers(0, 3))


def cell(candidate):
    return candidate.department, candidate.level


# ---------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(problems())
def test_select_properties(problem):
    candidates, k, must, mode, seed = problem
    chosen = select(candidates, k, must=must, mode=mode, seed=seed)
    assert len(chosen) == len(set(chosen)) == min(k, len(candidates))
    assert set(must) <= set(chosen)
    assert chosen == select(candidates, k, must=must, mode=mode, seed=seed)

    order = rotation_order(candidates, seed)
    assert chosen == sorted(chosen, key=lambda i: (i not in set(must), order.index(i)))
    by_id = {c.id: c for c in candidates}
    for group in {cell(c) for c in candidates}:
        free = [i for i in order if cell(by_id[i]) == group and i not in set(must)]
        taken = [i for i in free if i in set(chosen)]
        assert taken == free[: len(taken)], "rotation order broken inside a cell"


@settings(max_examples=300, deadline=None)
@given(problems(max_people=10))
def test_select_is_the_lexicographic_optimum_of_all_subsets(problem):
    candidates, k, must, mode, seed = problem
    chosen = select(candidates, k, must=must, mode=mode, seed=seed)
    position = {person: p for p, person in enumerate(rotation_order(candidates, seed))}
    positions = sum(position[i] for i in chosen if i not in must)
    found = (round(deviation(candidates, chosen, k, mode), 9), positions)
    assert found == brute_force(candidates, k, must, mode, seed)


@settings(max_examples=300, deadline=None)
@given(problems(max_people=10), st.data())
def test_select_by_cost_is_the_least_cost_among_minimum_deviation_subsets(problem, data):
    candidates, k, must, mode, seed = problem
    costs = data.draw(st.lists(st.integers(0, 5), min_size=len(candidates), max_size=len(candidates)))
    chosen = select_by_cost(candidates, k, costs, must=must, mode=mode, seed=seed)
    assert len(chosen) == len(set(chosen)) == min(k, len(candidates)) and set(must) <= set(chosen)
    assert chosen == select_by_cost(candidates, k, costs, must=must, mode=mode, seed=seed)
    cost = {c.id: value for c, value in zip(candidates, costs)}
    free = [c.id for c in candidates if c.id not in set(must)]
    best = min(
        (round(deviation(candidates, [*must, *rest], k, mode), 9), sum(cost[i] for i in rest))
        for rest in itertools.combinations(free, min(k, len(candidates)) - len(must))
    )
    found = (round(deviation(candidates, chosen, k, mode), 9), sum(cost[i] for i in chosen if i not in set(must)))
    assert found == best


def test_select_by_cost_with_equal_costs_is_select_and_refuses_bad_costs():
    rng = np.random.default_rng(3)
    candidates = skewed_pool(rng, 200)
    assert select_by_cost(candidates, 20, [7] * 200, must=[5], seed=2) == select(candidates, 20, must=[5], seed=2)
    same_cell = make([("eng", 0, 0, None)] * 5)
    assert select_by_cost(same_cell, 2, [10**30, 0, 10**30, 1, 10**30 - 1]) == [1, 3]  # no 64-bit overflow
    with pytest.raises(ValueError, match="2 costs for 200 candidates"):
        select_by_cost(candidates, 3, [0, 1])
    with pytest.raises(ValueError, match="at least 0"):
        select_by_cost(candidates, 3, [-1] * 200)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("trial", range(12))
def test_select_matches_the_ilp_on_skewed_pools(mode, trial):
    rng = np.random.default_rng(trial)
    size, departments, levels = (int(rng.integers(low, high)) for low, high in ((50, 400), (2, 9), (2, 6)))
    candidates = skewed_pool(rng, size, departments, levels)
    k = int(rng.integers(1, 60))
    must = rng.choice(size, size=int(rng.integers(0, min(k, 6) + 1)), replace=False).tolist()
    best = deviation(candidates, select(candidates, k, must=must, mode=mode, seed=trial), k, mode)
    assert best == pytest.approx(ilp_best_deviation(candidates, k, must, mode), abs=1e-6)
    assert best_deviation(candidates, k, must, mode) == pytest.approx(best)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_people=40))
def test_select_matches_the_ilp_on_random_pools(problem):
    candidates, k, must, mode, seed = problem
    chosen = select(candidates, k, must=must, mode=mode, seed=seed)
    expected = ilp_best_deviation(candidates, k, must, mode) if candidates else 0
    assert deviation(candidates, chosen, k, mode) == pytest.approx(expected, abs=1e-6)


def cells_of(candidates):
    return Counter(cell(candidate) for candidate in candidates)


@settings(max_examples=300, deadline=None)
@given(problems(), st.data())
def test_the_cell_functions_equal_the_people_functions(problem, data):
    candidates, k, must, mode, _seed = problem
    pool = cells_of(candidates)
    chosen = data.draw(st.lists(st.sampled_from(candidates), unique=True)) if candidates else []
    by_id = {c.id: c for c in candidates}
    assert cell_targets(pool, k, mode) == targets(candidates, k, mode)
    assert cell_deviation(pool, cells_of(chosen), mode=mode) == deviation(candidates, [c.id for c in chosen], mode=mode)
    assert cell_deviation(pool, cells_of(chosen), k, mode) == deviation(candidates, [c.id for c in chosen], k, mode)
    must_cells = cells_of(by_id[i] for i in must)
    assert best_cell_deviation(pool, k, must_cells, mode) == pytest.approx(best_deviation(candidates, k, must, mode), abs=1e-9)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("trial", range(12))
def test_the_best_cell_deviation_matches_the_ilp_on_skewed_pools_larger_than_k(mode, trial):
    rng = np.random.default_rng(100 + trial)
    candidates = skewed_pool(rng, int(rng.integers(200, 600)), int(rng.integers(2, 9)), int(rng.integers(2, 6)))
    k = int(rng.integers(1, 40))
    must = rng.choice(len(candidates), size=int(rng.integers(0, min(k, 6) + 1)), replace=False).tolist()
    best = best_cell_deviation(cells_of(candidates), k, cells_of(candidates[i] for i in must), mode)
    assert best == pytest.approx(ilp_best_deviation(candidates, k, must, mode), abs=1e-6)


def test_the_cell_functions_refuse_counts_beyond_the_pool():
    pool = {("eng", 0): 2, ("ops", 1): 1}
    with pytest.raises(ValueError, match="selected counts exceed the pool"):
        cell_deviation(pool, {("ops", 1): 2})
    with pytest.raises(ValueError, match="must counts exceed the pool"):
        best_cell_deviation(pool, 2, {("hr", 0): 1})
    with pytest.raises(ValueError, match="2 people must be invited but only k=1"):
        best_cell_deviation(pool, 1, {("eng", 0): 2})
    assert best_cell_deviation({}, 3) == 0.0 and cell_targets({}, 3) == ({}, {})


# ---------------------------------------------------------------- rotation


def test_rotation_order_prefers_fewest_invites_then_longest_ago_never_first():
    spec = [("eng", 0, 1, None), ("eng", 0, 0, 5), ("eng", 0, 0, None), ("eng", 0, 0, 1), ("eng", 0, 2, 0)]
    candidates = make(spec)
    assert rotation_order(candidates) == [2, 3, 1, 0, 4]


def test_ties_are_broken_by_the_seed():
    candidates = make([("eng", 0, 0, None)] * 10)
    picks = {tuple(select(candidates, 3, seed=seed)) for seed in range(10)}
    assert len(picks) > 1
    assert all(tuple(select(candidates, 3, seed=seed)) in picks for seed in range(10))


def test_a_free_seat_goes_to_the_group_whose_next_person_is_most_due():
    # two departments, 3 seats: one department gets 2; ops' second person has never been invited
    candidates = make([("eng", 0, 0, None), ("eng", 0, 3, 9), ("ops", 0, 0, None), ("ops", 0, 0, None)])
    assert sorted(select(candidates, 3)) == [0, 2, 3]


# ---------------------------------------------------------------- targets and deviation


def test_even_targets_water_fill_small_groups():
    candidates = make([("a", 0, 0, None)] + [("b", 1, 0, None)] * 10 + [("c", 1, 0, None)] * 10)
    departments, levels = targets(candidates, 9)
    assert departments == {"a": 1.0, "b": 4.0, "c": 4.0}
    assert levels == {0: 1.0, 1: 8.0}
    assert targets(candidates, 8)[0] == pytest.approx({"a": 1.0, "b": 3.5, "c": 3.5})


def test_proportional_targets():
    candidates = make([("a", 0, 0, None)] * 1 + [("b", 0, 0, None)] * 3)
    assert targets(candidates, 2, "proportional") == ({"a": 0.5, "b": 1.5}, {0: 2.0})
    assert targets(candidates, 99, "proportional") == ({"a": 1.0, "b": 3.0}, {0: 4.0})


@settings(max_examples=200, deadline=None)
@given(problems())
def test_targets_sum_to_the_selection_size_and_never_exceed_availability(problem):
    candidates, k, _, mode, _ = problem
    for dimension, attribute in zip(targets(candidates, k, mode), ("department", "level")):
        available = Counter(getattr(c, attribute) for c in candidates)
        assert sum(dimension.values()) == pytest.approx(min(k, len(candidates)))
        assert all(0 <= dimension[g] <= available[g] + 1e-9 for g in available)


def test_deviation_of_a_manual_selection():
    candidates = make([("a", 0, 0, None), ("a", 1, 0, None), ("b", 0, 0, None), ("b", 1, 0, None)])
    # targets for 2: a=1, b=1, level 0=1, level 1=1
    assert deviation(candidates, [0, 1]) == 2.0
    assert deviation(candidates, [0, 3]) == 0.0
    assert deviation(candidates, [0], k=2) == 2.0
    assert deviation(candidates, []) == 0.0
    with pytest.raises(ValueError, match="'nobody'"):
        deviation(candidates, ["nobody"])


# ---------------------------------------------------------------- replacement


@settings(max_examples=300, deadline=None)
@given(problems(max_people=20), st.data())
def test_replacement_is_the_best_single_swap(problem, data):
    candidates, k, must, mode, seed = problem
    selected = select(candidates, k, must=must, mode=mode, seed=seed)
    removable = [i for i in selected if i not in must]
    if not removable:
        return
    remove = data.draw(st.sampled_from(removable))
    swap_in = replacement(candidates, selected, remove, must=must, mode=mode, seed=seed)
    others = [c for c in candidates if c.id not in set(selected)]
    if not others:
        assert swap_in is None
        return
    by_id = {c.id: c for c in candidates}
    kept = [i for i in selected if i != remove]

    def after(c):
        return round(deviation(candidates, [*kept, c.id], len(selected), mode), 9)

    best = min(after(c) for c in others)
    assert after(by_id[swap_in]) == best
    same_cell = [c for c in others if cell(c) == cell(by_id[remove]) and after(c) == best]
    if same_cell:
        assert cell(by_id[swap_in]) == cell(by_id[remove])
    order = rotation_order(candidates, seed)
    rivals = [c.id for c in others if cell(c) == cell(by_id[swap_in])]
    assert swap_in == min(rivals, key=order.index)


def test_replacement_takes_the_same_cell_then_the_best_other_cell():
    candidates = make([("eng", 0, 0, None), ("eng", 0, 1, None), ("ops", 1, 0, None), ("ops", 0, 0, None)])
    assert replacement(candidates, [0, 2], 0) == 1
    assert replacement(candidates, [0, 1, 2], 0) == 3
    assert replacement(candidates, [0, 1, 2, 3], 0) is None


def test_replacement_errors():
    candidates = make([("eng", 0, 0, None), ("ops", 0, 0, None), ("ops", 1, 0, None)])
    with pytest.raises(ValueError, match="not selected"):
        replacement(candidates, [0], 1)
    with pytest.raises(ValueError, match="cannot be replaced"):
        replacement(candidates, [0, 1], 0, must=[0])
    with pytest.raises(ValueError, match="'ghost'"):
        replacement(candidates, [0, "ghost"], 0)
    with pytest.raises(ValueError, match="unknown mode"):
        replacement(candidates, [0], 0, mode="fair")


# ---------------------------------------------------------------- errors and edges


def test_errors_name_the_problem():
    candidates = make([("eng", 0, 0, None), ("ops", 1, 0, None)])
    with pytest.raises(ValueError, match="at least 0"):
        select(candidates, -1)
    with pytest.raises(ValueError, match="2 people must be invited but only k=1"):
        select(candidates, 1, must=[0, 1])
    with pytest.raises(ValueError, match="'ann', 'bob'"):
        select(candidates, 2, must=["ann", 0, "bob"])
    with pytest.raises(ValueError, match="duplicate candidate ids: 0"):
        select([*candidates, candidates[0]], 1)
    with pytest.raises(ValueError, match="unknown mode 'fair'"):
        select(candidates, 1, mode="fair")
    with pytest.raises(ValueError, match="unknown mode"):
        targets(candidates, 1, "fair")
    with pytest.raises(ValueError, match="at least 0"):
        targets(candidates, -1)


def test_edges():
    candidates = make([("eng", 0, 0, None), ("eng", 1, 2, 3), ("eng", 2, 0, 1)])
    assert select(candidates, 0) == []
    assert select([], 5) == []
    assert best_deviation([], 5) == 0.0
    assert targets([], 3) == ({}, {})
    assert sorted(select(candidates, 3)) == sorted(select(candidates, 10)) == [0, 1, 2]
    assert select(candidates, 10, must=[1])[0] == 1
    assert select(candidates, 2) == [0, 2]  # one department: levels decide, rotation order returned
    assert deviation(candidates, [0, 2]) == pytest.approx(4 / 3)  # level targets are 2/3 each


def test_large_k_and_large_directory():
    rng = np.random.default_rng(7)
    candidates = skewed_pool(rng, 3000, departments=25, levels=6)
    for k in (150, 2999):
        chosen = select(candidates, k, must=[0, 1, 2])
        assert len(chosen) == k
        assert deviation(candidates, chosen, k) == pytest.approx(ilp_best_deviation(candidates, k, [0, 1, 2]))


def test_importing_does_not_load_flask_or_sqlalchemy():
    code = "import sys, planner.balance; assert not {'flask', 'sqlalchemy'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


@pytest.mark.parametrize("seed", range(6))
def test_rotation_indices_are_the_stable_order_of_the_three_keys_packed_or_not(seed):
    """The packed int64 key (small counts and dates) and the lexsort fallback (anything larger) give one order."""
    rng = np.random.default_rng(seed)
    count = 500
    big = seed % 2 == 1  # counts and dates too large to pack
    recent = rng.integers(0, 3000 if big else 3, count)
    last = np.where(rng.random(count) < 0.5, 0, rng.integers(1, 2**21 if big else 739_000, count))
    ids = rng.permutation(10 * count)[:count] if seed < 4 else np.array([f"p{n}" for n in range(count)], dtype=object)
    pool = Columns(ids, np.zeros(count, np.int64), ("eng",), np.zeros(count, np.int64), recent, last)
    expected = np.lexsort((np.arange(count), draw(pool.numbers, seed), last, recent))
    assert rotation_indices(pool, seed).tolist() == expected.tolist()


def test_positions_of_int_ids_use_the_table_even_for_no_ids():
    """Looking up nobody, or database keys, never builds the dict index of the whole pool (50,000 people at a click)."""
    count = 1000
    pool = Columns(np.arange(1, count + 1), np.zeros(count, np.int64), ("eng",), np.zeros(count, np.int64),
                   np.zeros(count, np.int64), np.zeros(count, np.int64))
    assert pool.positions([]).tolist() == []
    assert pool.positions([5, 0, count + 7]).tolist() == [4, -1, -1]
    assert "index" not in vars(pool)
