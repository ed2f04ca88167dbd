"""Network health of the "met" graph: ties outside the department, juniors' ties upwards, the E-I index.

A tie is a pair of people who met in the period. Coverage is the share of people with a tie
outside their department; bridge is the share of juniors (level <= junior_max) with a tie to
someone at least two levels up; the Krackhardt E-I index is (external - internal) / all ties,
external meaning across departments, from -1 (all inside) to +1 (all across).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from .mixing import Person


@dataclass(frozen=True)
class Health:
    """How well connected a group of people is across departments and levels."""

    people: int  # people counted
    coverage: float  # share with at least one tie outside their department
    bridge: float  # share of juniors (level <= junior_max) with a tie at least two levels up
    ei_index: float  # (external - internal) / all ties over departments; 0.0 with no ties
    isolated: tuple[Hashable, ...]  # ids with no tie outside their department, sorted


def health(people: Sequence[Person], ties: Iterable[tuple[Hashable, Hashable]], *, junior_max: int = 1) -> Health:
    """Measure coverage, bridge, E-I index and isolation; duplicate ties and unknown ids are ignored."""
    by_id = {person.id: person for person in people}
    if len(by_id) != len(people):
        raise ValueError("duplicate person ids")
    pairs = {frozenset(tie) for tie in ties if tie[0] != tie[1] and tie[0] in by_id and tie[1] in by_id}
    external, crossing, bridged = 0, set(), set()
    for pair in pairs:
        a, b = sorted((by_id[member] for member in pair), key=lambda person: person.level)
        if a.department != b.department:
            external += 1
            crossing.update(pair)
        if b.level - a.level >= 2 and a.level <= junior_max:
            bridged.add(a.id)
    juniors = sum(person.level <= junior_max for person in people)
    return Health(
        people=len(people),
        coverage=len(crossing) / len(people) if people else 0.0,
        bridge=len(bridged) / juniors if juniors else 0.0,
        ei_index=(2 * external - len(pairs)) / len(pairs) if pairs else 0.0,
        isolated=tuple(sorted(person.id for person in people if person.id not in crossing)),
    )
