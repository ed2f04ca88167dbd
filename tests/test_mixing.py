"""Tests for planner.mixing: weights, novelty decay, table bounds and mixing scores."""

from datetime import date, timedelta

import numpy as np
import pytest

from planner.mixing import (
    Person,
    mixing_score,
    novelty,
    pair_bounds,
    pair_weights,
    table_bounds,
)
from planner.tables import partition

TODAY = date(2026, 11, 26)
PEOPLE = [
    Person("ana", "sales", 0),
    Person("bo", "sales", 2),
    Person("cy", "tech", 4),
    Person("di", "tech", 0),
    Person("ed", "ops", 1),
]


def test_novelty_recovers_from_zero_to_one():
    assert novelty(0) == 0.0
    assert novelty(None) == 1.0
    assert novelty(182) == 1.0
    assert novelty(400) == 1.0
    assert novelty(91) == pytest.approx(0.5)
    curve = [novelty(days) for days in range(0, 200, 5)]
    assert curve == sorted(curve)
    assert novelty(7) < 0.01


def test_novelty_respects_recovery_period():
    assert novelty(30, recovery_days=30) == 1.0
    assert novelty(15, recovery_days=30) == pytest.approx(0.5)
    assert novelty(-3) == 0.0


def test_weights_are_symmetric_non_negative_with_zero_diagonal():
    met_on = {frozenset(("ana", "cy")): TODAY - timedelta(days=10)}
    weights = pair_weights(PEOPLE, met_on, TODAY)
    assert weights.shape == (5, 5)
    assert np.allclose(weights, weights.T)
    assert np.all(weights >= 0) and np.all(np.diag(weights) == 0)


def test_weights_follow_the_documented_formula():
    met_on = {frozenset(("ana", "cy")): TODAY - timedelta(days=91)}
    weights = pair_weights(PEOPLE, met_on, TODAY, w_department=1.0, w_level=0.5, w_new=2.0)
    assert weights[0, 1] == pytest.approx(0 + 0.5 * 2 / 4 + 2.0)  # same department, never met
    assert weights[0, 2] == pytest.approx(1 + 0.5 * 4 / 4 + 2.0 * 0.5)  # met three months ago
    assert weights[2, 3] == pytest.approx(0 + 0.5 * 4 / 4 + 2.0)


def test_recent_meeting_lowers_the_weight_until_it_recovers():
    pair = frozenset(("bo", "ed"))
    fresh = pair_weights(PEOPLE, {pair: TODAY}, TODAY)[1, 4]
    later = pair_weights(PEOPLE, {pair: TODAY - timedelta(days=100)}, TODAY)[1, 4]
    never = pair_weights(PEOPLE, {}, TODAY)[1, 4]
    assert fresh < later < never
    assert pair_weights(PEOPLE, {pair: TODAY - timedelta(days=365)}, TODAY)[1, 4] == never


def test_history_about_absent_people_is_ignored():
    weights = pair_weights(PEOPLE, {frozenset(("ana", "zed")): TODAY}, TODAY)
    assert np.allclose(weights, pair_weights(PEOPLE, {}, TODAY))


def test_weights_for_nobody_and_equal_levels():
    assert pair_weights([], {}, TODAY).shape == (0, 0)
    same_level = [Person(1, "a", 3), Person(2, "b", 3)]
    assert pair_weights(same_level, {}, TODAY)[0, 1] == pytest.approx(2.0)


@pytest.mark.parametrize("n, tables", [(6, 1), (8, 1), (12, 2), (20, 3), (24, 3), (25, 4), (100, 13)])
def test_table_bounds_use_the_fewest_tables(n, tables):
    bounds = table_bounds(n)
    assert len(bounds) == tables
    assert all(bound == (6, 8) for bound in bounds)


@pytest.mark.parametrize("n", [1, 5, 9, 10, 11, 17])
def test_table_bounds_raise_when_no_table_count_fits(n):
    with pytest.raises(ValueError):
        table_bounds(n)


def test_table_bounds_from_real_capacities():
    assert table_bounds(10, sizes=[4, 6, 8]) == [(0, 4), (0, 6), (0, 8)]
    with pytest.raises(ValueError):
        table_bounds(19, sizes=[4, 6, 8])
    with pytest.raises(ValueError):
        table_bounds(4, min_size=5, max_size=3)
    assert table_bounds(0) == []


@pytest.mark.parametrize("n", [2, 3, 4, 7, 10])
def test_pair_bounds(n):
    bounds = pair_bounds(n)
    assert len(bounds) == n // 2
    assert sum(lo for lo, _ in bounds) == n == sum(hi for _, hi in bounds)
    assert sorted(bounds).count((3, 3)) == n % 2


def test_pair_bounds_need_two_people():
    with pytest.raises(ValueError):
        pair_bounds(1)


def test_mixing_score_counts_pairs():
    met_on = {frozenset(("ana", "bo")): TODAY - timedelta(days=20), frozenset(("cy", "di")): TODAY - timedelta(days=300)}
    tables, overall = mixing_score([0, 0, 1, 1, 1], PEOPLE, met_on, TODAY)
    assert tables[0].cross_department_share == 0.0 and tables[0].new_pairs == 0
    assert tables[0].mean_level_spread == 2
    assert tables[1].cross_department_share == pytest.approx(2 / 3)
    assert tables[1].new_pairs == 3 and tables[1].mean_level_spread == 4
    assert overall.cross_department_share == pytest.approx(2 / 4)
    assert overall.new_pairs == 3 and overall.mean_level_spread == 3


def test_partition_with_mixing_weights_mixes_departments():
    people = [Person(i, f"d{i % 3}", i % 4) for i in range(18)]
    weights = pair_weights(people, {}, TODAY)
    groups = partition(weights, table_bounds(18), seconds=0.3)
    _, overall = mixing_score(groups, people, {}, TODAY)
    assert overall.cross_department_share > 0.75
