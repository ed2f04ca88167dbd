"""planner.network: coverage, bridge, E-I index and isolation against a brute-force count."""

import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.mixing import Person
from planner.network import Health, health


@st.composite
def graphs(draw):
    specs = draw(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 4)), max_size=12))
    people = [Person(i, dept, level) for i, (dept, level) in enumerate(specs)]
    ids = st.integers(-1, len(people))  # -1 and len(people) are unknown ids
    ties = draw(st.lists(st.tuples(ids, ids), max_size=40))
    return people, ties, draw(st.integers(0, 3))


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_health_matches_a_brute_force_count(graph):
    people, ties, junior_max = graph
    result = health(people, ties, junior_max=junior_max)
    tied = {(a, b) for a, b in ties} | {(b, a) for a, b in ties}
    pairs = [(p, q) for p, q in itertools.combinations(people, 2) if (p.id, q.id) in tied]
    external = [(p, q) for p, q in pairs if p.department != q.department]
    crossing = [p for p in people if any(p in pair for pair in external)]
    juniors = [p for p in people if p.level <= junior_max]
    bridged = [j for j in juniors if any((j.id, q.id) in tied and q.level >= j.level + 2 for q in people)]
    assert result.people == len(people)
    assert result.coverage == pytest.approx(len(crossing) / len(people) if people else 0.0)
    assert result.bridge == pytest.approx(len(bridged) / len(juniors) if juniors else 0.0)
    internal = len(pairs) - len(external)
    assert result.ei_index == pytest.approx((len(external) - internal) / len(pairs) if pairs else 0.0)
    assert result.isolated == tuple(p.id for p in people if p not in crossing)


def test_an_example_graph():
    people = [Person("ana", "sales", 0), Person("bo", "sales", 2), Person("cy", "tech", 1), Person("di", "ops", 4)]
    ties = [("ana", "bo"), ("bo", "ana"), ("bo", "cy"), ("ana", "ana"), ("cy", "ghost")]
    assert health(people, ties) == Health(people=4, coverage=0.5, bridge=0.5, ei_index=0.0, isolated=("ana", "di"))
    assert health(people, ties, junior_max=0).bridge == 1.0
    assert health([], []) == Health(0, 0.0, 0.0, 0.0, ())
    with pytest.raises(ValueError, match="duplicate"):
        health([people[0], people[0]], [])


def test_importing_does_not_load_flask_or_sqlalchemy():
    code = "import sys, planner.network; assert not {'flask', 'sqlalchemy'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
