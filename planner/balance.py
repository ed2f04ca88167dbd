"""Who to invite: the most balanced selection that exists, with a fair rotation inside each group.

Balance is measured per dimension (department, level) against targets; see DESIGN.md.
`select` solves it exactly as a convex-cost flow

    source -> department d -> cell (d, l) -> level l -> sink

where the flow through cell (d, l) is how many people of that department and level are invited.
The department and level arcs cost |n - t| (convex, charged unit by unit); cell arcs are bounded
below by the `must` people and above by the people available.  Successive shortest paths from
the only flow that carries exactly the `must` people give a minimum-cost flow of every larger
value, so the flow of value k' is an exact optimum.

Ties are broken lexicographically inside the same flow: every person also costs their position
in the rotation order (fewest recent invites, longest since the last invitation, then a seeded
draw from their id, see `draw`), scaled far below one unit of deviation.  Inside a cell people therefore leave in
rotation order, and among the selections of minimum deviation `select` returns one whose sum of
rotation positions is smallest: a free seat goes to whichever group's next person is most due.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from functools import cached_property, lru_cache
from hashlib import blake2b
from math import lcm
from operator import attrgetter

import numpy as np

MODES = ("even", "proportional")
#: read one field of every candidate in C (map), several times faster than a generator over 50,000 people
IDS, DEPARTMENTS, LEVELS = attrgetter("id"), attrgetter("department"), attrgetter("level")


@dataclass(frozen=True)
class Candidate:
    id: Hashable
    department: str
    level: int  # 0 = most junior; higher = more senior
    recent_invites: int = 0  # invitations within the look-back window
    last_invited: date | None = None


@dataclass(frozen=True, eq=False)
class Columns:
    """Candidates as arrays, one entry per person: what the solvers read, without an object per person.

    The planner builds them straight from the database (tens of thousands of people); `of` builds them from
    Candidates. `department` holds positions in `departments`, which is sorted, so codes sort as the names do.
    """

    ids: np.ndarray  # int64, or object for other hashable ids
    department: np.ndarray  # int64 positions in departments
    departments: tuple[str, ...]
    level: np.ndarray  # int64
    recent: np.ndarray  # int64: invitations within the look-back window
    last: np.ndarray  # int64: ordinal of the last invitation, 0 when never

    @classmethod
    def of(cls, candidates: Sequence[Candidate]) -> Columns:
        """The columns of these candidates, in their order; duplicate ids are refused."""
        count, ids = len(candidates), list(map(IDS, candidates))
        names = list(map(DEPARTMENTS, candidates))
        departments = tuple(sorted(set(names)))
        code = {name: n for n, name in enumerate(departments)}
        as_ints = set(map(type, ids)) <= {int} and _fit_int64(ids)
        columns = cls(
            ids=np.fromiter(ids, np.int64 if as_ints else object, count),
            department=np.fromiter(map(code.__getitem__, names), np.int64, count),
            departments=departments,
            level=np.fromiter(map(LEVELS, candidates), np.int64, count),
            recent=np.fromiter(map(attrgetter("recent_invites"), candidates), np.int64, count),
            last=np.fromiter(map(_ordinal, map(attrgetter("last_invited"), candidates)), np.int64, count),
        )
        if len(columns.index) != count:
            _refuse_duplicates(ids)
        return columns

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, indices: np.ndarray) -> Columns:
        """The columns of the people at these positions, in that order."""
        return Columns(self.ids[indices], self.department[indices], self.departments, self.level[indices],
                       self.recent[indices], self.last[indices])

    def id_list(self, indices: Sequence[int] | np.ndarray) -> list[Hashable]:
        """The ids at these positions, as plain Python values."""
        return self.ids[np.asarray(indices, np.int64)].tolist()

    def positions(self, ids: Collection[Hashable]) -> np.ndarray:
        """Each id's position in the columns, -1 for an id that is not there."""
        wanted = list(ids)
        if not wanted:  # np.array([]) is float: an empty list would build the whole index to look nobody up
            return np.empty(0, np.int64)
        table = self.table
        keys = None if table is None else np.array(wanted)
        if keys is None or keys.dtype.kind != "i":  # only int (or bool, equal to 0 and 1 as in a dict) ids look up the table
            index = self.index
            return np.fromiter((index.get(person, -1) for person in wanted), np.int64, len(wanted))
        inside = (keys >= 0) & (keys < len(table))
        return np.where(inside, table[np.where(inside, keys, 0)], -1)

    def cells(self) -> Counter:
        """The head count of each (department, level) cell: the pool as the cell_* functions read it."""
        return cell_counts(self.department, self.departments, self.level)

    @cached_property
    def index(self) -> dict[Hashable, int]:
        """Each id's position."""
        return dict(zip(self.ids.tolist(), range(len(self.ids))))

    @cached_property
    def table(self) -> np.ndarray | None:
        """Position by id, for ids that are small non-negative ints (database keys): -1 where no one has that id."""
        if self.ids.dtype == object or not _countable(self.ids):
            return None
        table = np.full(int(self.ids.max()) + 1, -1, np.int64)
        table[self.ids] = np.arange(len(self.ids))
        return table

    @cached_property
    def numbers(self) -> np.ndarray:
        """The numbers the ids draw with (see id_number)."""
        if self.ids.dtype != object and ((self.ids >= 0) & (self.ids < DRAWS)).all():
            return self.ids
        return np.fromiter(map(id_number, self.ids.tolist()), np.int64, len(self.ids))


def cell_counts(department: np.ndarray, departments: Sequence[str], level: np.ndarray) -> Counter:
    """The head count of each (department, level) cell of people given as department codes (into departments) and levels."""
    levels, level_code = _distinct(level)
    counts = np.bincount(department * len(levels) + level_code, minlength=len(departments) * len(levels))
    values = levels.tolist()
    return Counter({(departments[code // len(values)], values[code % len(values)]): int(counts[code])
                    for code in np.flatnonzero(counts).tolist()})


def select(
    candidates: Sequence[Candidate],
    k: int,
    *,
    must: Collection[Hashable] = (),
    mode: str = "even",
    seed: int = 0,
) -> list[Hashable]:
    """Ids of a minimum-deviation selection of min(k, |candidates|): must people first, then rotation order."""
    return select_columns(Columns.of(candidates), k, must=must, mode=mode, seed=seed)


def select_columns(
    pool: Columns, k: int, *, must: Collection[Hashable] = (), mode: str = "even", seed: int = 0
) -> list[Hashable]:
    """Like select, over a pool given as columns."""
    must_indices = must_positions(pool, k, must, mode)
    return pool.id_list(_Flow(pool, must_indices, min(k, len(pool)), mode, seed).solve())


def select_by_cost(
    candidates: Sequence[Candidate],
    k: int,
    costs: Sequence[int],
    *,
    must: Collection[Hashable] = (),
    mode: str = "even",
    seed: int = 0,
) -> list[Hashable]:
    """Like select, but among minimum-deviation selections the least sum of costs (ints >= 0) wins, then rotation."""
    pool = Columns.of(candidates)
    return pool.id_list(select_by_cost_indices(pool, k, costs, must_positions(pool, k, must, mode), mode=mode, seed=seed))


def select_by_cost_indices(
    pool: Columns, k: int, costs: Sequence[int], must_indices: list[int], *, mode: str = "even", seed: int = 0
) -> list[int]:
    """Like select_by_cost over columns, with the must people given by position: the positions chosen."""
    if len(costs) != len(pool):
        raise ValueError(f"{len(costs)} costs for {len(pool)} candidates")
    if len(costs) and np.min(costs) < 0:
        raise ValueError("costs must be at least 0")
    return _Flow(pool, must_indices, min(k, len(pool)), mode, seed, costs).solve()


def targets(
    candidates: Sequence[Candidate], k: int, mode: str = "even"
) -> tuple[dict[str, float], dict[int, float]]:
    """The target head count of each department and each level for a selection of size k."""
    _check_mode(mode)
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    return tuple(
        {group: float(target) for group, target in sorted(dimension.items())}
        for dimension in _targets(candidates, min(k, len(candidates)), mode)
    )


def deviation(
    candidates: Sequence[Candidate],
    selected_ids: Collection[Hashable],
    k: int | None = None,
    mode: str = "even",
) -> float:
    """Deviation of any selection from the targets for size k (default: the selection's size)."""
    _check_mode(mode)
    by_id = _index(candidates)
    selected = set(selected_ids)
    unknown = [person for person in selected_ids if person not in by_id]
    if unknown:
        raise ValueError(f"selected ids are not among the candidates: {_names(unknown)}")
    size = len(selected) if k is None else k
    if size < 0:
        raise ValueError(f"k must be at least 0, got {size}")
    chosen = [candidates[by_id[person]] for person in selected]
    return float(_deviation(candidates, chosen, min(size, len(candidates)), mode))


def best_deviation(
    candidates: Sequence[Candidate], k: int, must: Collection[Hashable] = (), mode: str = "even"
) -> float:
    """The smallest deviation any selection of min(k, len(candidates)) people containing `must` can have."""
    return deviation(candidates, select(candidates, k, must=must, mode=mode), k, mode)


#: a pool or a selection counted by (department, level): what balance depends on, without the people
Cells = Mapping[tuple[Hashable, int], int]


def cell_targets(pool: Cells, k: int, mode: str = "even") -> tuple[dict[str, float], dict[int, float]]:
    """Like targets, from the pool's head count per (department, level) cell instead of its people."""
    _check_mode(mode)
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    size = min(k, sum(pool.values()))
    return tuple(
        {group: float(target) for group, target in sorted(dimension.items())}
        for dimension in _cell_targets(pool, size, mode)
    )


def cell_deviation(pool: Cells, chosen: Cells, k: int | None = None, mode: str = "even") -> float:
    """Like deviation, from head counts per cell: the selection's (within the pool's) against the pool's targets."""
    _check_mode(mode)
    _check_cells(pool, chosen, "selected")
    size = sum(chosen.values()) if k is None else k
    if size < 0:
        raise ValueError(f"k must be at least 0, got {size}")
    return float(_cell_deviation(pool, chosen, min(size, sum(pool.values())), mode))


def best_cell_deviation(pool: Cells, k: int, must: Cells | None = None, mode: str = "even") -> float:
    """Like best_deviation, from head counts per cell: the least deviation of min(k, |pool|) people holding `must`."""
    must = must or {}
    _check_mode(mode)
    _check_cells(pool, must, "must")
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    if sum(must.values()) > k:
        raise ValueError(f"{sum(must.values())} people must be invited but only k={k} seats exist")
    return _best_cell_deviation(frozenset(pool.items()), frozenset(must.items()), min(k, sum(pool.values())), mode)


@lru_cache(maxsize=256)
def _best_cell_deviation(pool_items: frozenset, must_items: frozenset, size: int, mode: str) -> float:
    """best_cell_deviation of checked input, remembered: a draft's page shows the same figure on every view."""
    pool, must = dict(pool_items), dict(must_items)
    # A cell never gives more than its must people plus `size`: stand-ins for those are enough.
    stand_ins, must_indices = [], []
    for (department, level), count in pool.items():
        floor = must.get((department, level), 0)
        for n in range(min(count, floor + size)):
            if n < floor:
                must_indices.append(len(stand_ins))
            stand_ins.append(Candidate((department, level, n), department, level))
    chosen = _Flow(Columns.of(stand_ins), must_indices, size, mode, 0, sizes=_cell_sizes(pool)).solve()
    return float(_cell_deviation(pool, Counter((stand_ins[i].department, stand_ins[i].level) for i in chosen), size, mode))


def _check_cells(pool: Cells, part: Cells, name: str) -> None:
    over = [cell for cell, count in part.items() if count < 0 or count > pool.get(cell, 0)]
    if over:
        raise ValueError(f"{name} counts exceed the pool in cells: {_names(over)}")


def _cell_sizes(pool: Cells) -> tuple[Counter, Counter]:
    departments, levels = Counter(), Counter()
    for (department, level), count in pool.items():
        if count:
            departments[department] += count
            levels[level] += count
    return departments, levels


def _cell_targets(pool: Cells, size: int, mode: str) -> tuple[dict, dict]:
    departments, levels = _cell_sizes(pool)
    return _spread(departments, size, mode), _spread(levels, size, mode)


def _cell_deviation(pool: Cells, chosen: Cells, size: int, mode: str) -> Fraction:
    dept_target, level_target = _cell_targets(pool, size, mode)
    dept_count, level_count = _cell_sizes(chosen)
    return sum(abs(dept_count[d] - t) for d, t in dept_target.items()) + sum(
        abs(level_count[l] - t) for l, t in level_target.items()
    )


def replacement(
    candidates: Sequence[Candidate],
    selected_ids: Collection[Hashable],
    remove_id: Hashable,
    *,
    must: Collection[Hashable] = (),
    mode: str = "even",
    seed: int = 0,
) -> Hashable | None:
    """Who replaces remove_id: least deviation, then same cell, then rotation order; None if nobody is left."""
    return replacement_columns(Columns.of(candidates), selected_ids, remove_id, must=must, mode=mode, seed=seed)


def replacement_columns(
    pool: Columns,
    selected_ids: Collection[Hashable],
    remove_id: Hashable,
    *,
    must: Collection[Hashable] = (),
    mode: str = "even",
    seed: int = 0,
) -> Hashable | None:
    """Like replacement, over a pool given as columns: each open cell's first unselected person in rotation order."""
    _check_mode(mode)
    selected, must = set(selected_ids), set(must)
    wanted = [*selected, remove_id, *must]
    unknown = [person for person, at in zip(wanted, pool.positions(wanted).tolist()) if at < 0]
    if unknown:
        raise ValueError(f"ids are not among the candidates: {_names(unknown)}")
    if remove_id not in selected:
        raise ValueError(f"{remove_id!r} is not selected")
    if remove_id in must:
        raise ValueError(f"{remove_id!r} must be invited and cannot be replaced")
    if not must <= selected:
        raise ValueError(f"must ids are not selected: {_names(must - selected)}")

    levels, level_code = _distinct(pool.level)
    cell = pool.department * len(levels) + level_code
    is_selected = np.zeros(len(pool), bool)
    is_selected[pool.positions(selected)] = True
    (removed,) = pool.positions([remove_id]).tolist()
    kept = np.flatnonzero(is_selected)
    kept = kept[kept != removed]
    dept_target = _spread(_named_counts(pool.department, pool.departments), len(selected), mode)
    level_target = _spread(_named_counts(level_code, levels.tolist()), len(selected), mode)
    dept_count = _named_counts(pool.department[kept], pool.departments)
    level_count = _named_counts(level_code[kept], levels.tolist())

    def added_cost(count: int, target: Fraction) -> Fraction:
        return abs(count + 1 - target) - abs(count - target)

    best, best_key = None, None
    for person in _first_per_cell(np.flatnonzero(~is_selected), cell, _rotation_keys(pool, seed)).tolist():
        department, level = pool.departments[pool.department[person]], int(pool.level[person])
        cost = added_cost(dept_count[department], dept_target[department]) + added_cost(level_count[level], level_target[level])
        key = (cost, bool(cell[person] != cell[removed]))
        if best_key is None or key < best_key:
            best, best_key = person, key
    return None if best is None else pool.id_list([best])[0]


def _first_per_cell(people: np.ndarray, cell: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Each cell's first of these people by key (then position), the cells in that order too: no sort of everyone."""
    cells = cell[people]
    least = np.full(int(cell.max(initial=0)) + 1, np.iinfo(np.int64).max)
    np.minimum.at(least, cells, key[people])
    tied = people[key[people] == least[cells]]
    first = np.full(len(least), len(cell))
    np.minimum.at(first, cell[tied], tied)
    first = first[first < len(cell)]
    return first[np.lexsort((first, key[first]))]


def _named_counts(codes: np.ndarray, names: Sequence[Hashable]) -> Counter:
    """How many of these codes stand for each name (names[code]), the names of no code left out."""
    counts = np.bincount(codes, minlength=len(names))
    return Counter({names[code]: int(counts[code]) for code in np.flatnonzero(counts).tolist()})


def rotation_order(candidates: Sequence[Candidate], seed: int = 0) -> list[Hashable]:
    """Everyone, most due first: fewest recent invites, longest since invited (never first), then the seeded draw."""
    columns = Columns.of(candidates)
    return columns.id_list(rotation_indices(columns, seed))


#: draws are numbers below 2**31, so that every step of `draw` stays inside a signed 64-bit integer (SQLite, PostgreSQL)
DRAWS = 2**31


def draw(number, seed: int):
    """The seeded draw of the person whose id is `number` (0 <= number < DRAWS): a number below DRAWS.

    Written with +, * and % alone, so that the same formula runs on a Python int, a numpy array of int64 and an SQL
    integer expression (where it costs a few steps per row). An odd multiplier modulo 2**31, then the permutation
    polynomial h(2h + 1) modulo 2**31 (below 2**63 before the modulo): a one-to-one mix, so no two people of one seed
    draw alike; and a person's draw depends on nothing but their id and the seed, not on the pool they are in or
    their place in it.
    """
    mixed = (number * 1_103_515_245 + (seed * 2_654_435_761 + 12_345) % DRAWS) % DRAWS
    return mixed * (2 * mixed + 1) % DRAWS


def id_number(person: Hashable) -> int:
    """The number an id draws with: the id itself when it is an int below DRAWS, else a stable digest of its repr."""
    if type(person) is int and 0 <= person < DRAWS:
        return person
    return int.from_bytes(blake2b(repr(person).encode(), digest_size=4).digest()) % DRAWS


def rotation_indices(pool: Columns, seed: int = 0) -> np.ndarray:
    """The pool's positions in rotation order (see rotation_order)."""
    key = _packed_rotation(pool, seed)
    if key is not None:
        order = np.argsort(key)
        if not (key[order[1:]] == key[order[:-1]]).any():  # no two alike, so this is the one stable order
            return order
    return np.lexsort((draw(pool.numbers, seed), pool.last, pool.recent))


def _packed_rotation(pool: Columns, seed: int) -> np.ndarray | None:
    """The three sort keys of the rotation order in one int64 per person (draws are below 2**31), when they fit."""
    recent, last = pool.recent, pool.last
    if len(pool) and recent.min() >= 0 and recent.max() < 2**11 and last.min() >= 0 and last.max() < 2**20:
        return (recent << 20 | last) << 31 | draw(pool.numbers, seed)
    return None


def _rotation_keys(pool: Columns, seed: int) -> np.ndarray:
    """A number per person that sorts as the rotation order, where equal numbers go to the lower position."""
    key = _packed_rotation(pool, seed)
    if key is None:
        key = np.empty(len(pool), np.int64)
        key[rotation_indices(pool, seed)] = np.arange(len(pool))
    return key


def _ordinal(day: date | None) -> int:
    return day.toordinal() if day else 0


def _index(candidates: Sequence[Candidate]) -> dict[Hashable, int]:
    by_id = dict(zip(map(IDS, candidates), range(len(candidates))))
    if len(by_id) != len(candidates):
        _refuse_duplicates(list(map(IDS, candidates)))
    return by_id


def id_order(ids: np.ndarray) -> np.ndarray:
    """The positions of these distinct ids in id order: counted into a table of ids when they are small non-negative ints
    (database keys), else sorted."""
    if not _countable(ids):
        return np.argsort(ids, kind="stable")
    table = np.full(int(ids.max()) + 1, -1, np.int64)
    table[ids] = np.arange(len(ids))
    return table[table >= 0]


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values, sorted, and each value's position among them (np.unique's answer, by counting when it can)."""
    if not _countable(values):
        return np.unique(values, return_inverse=True)
    present = np.bincount(values) > 0
    return np.flatnonzero(present), (np.cumsum(present) - 1)[values]


def _countable(values: np.ndarray) -> bool:
    """Whether these ints can index an array of counts or positions: non-negative and not much above their number."""
    return bool(len(values)) and values.min() >= 0 and values.max() <= 4 * len(values) + 1024


def _narrow(keys: np.ndarray) -> np.ndarray:
    """The same non-negative keys in 16 bits when they fit, where numpy's stable sort is a radix sort."""
    return keys.astype(np.int16) if not len(keys) or keys.max() < 2**15 else keys


def _fit_int64(numbers: list[int]) -> bool:
    return not numbers or (-(2**63) <= min(numbers) and max(numbers) < 2**63)


def _refuse_duplicates(ids: list[Hashable]) -> None:
    repeated = [person for person, count in Counter(ids).items() if count > 1]
    raise ValueError(f"duplicate candidate ids: {_names(repeated)}")


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")


def must_positions(pool: Columns, k: int, must: Collection[Hashable], mode: str) -> list[int]:
    """The positions of the must ids in the pool, each once; ValueError for a bad mode, k < 0, an unknown id or too many."""
    _check_mode(mode)
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    must_ids = list(dict.fromkeys(must))
    found = pool.positions(must_ids)
    unknown = [person for person, where in zip(must_ids, found.tolist()) if where < 0]
    if unknown:
        raise ValueError(f"must ids are not among the candidates: {_names(unknown)}")
    if len(must_ids) > k:
        raise ValueError(f"{len(must_ids)} people must be invited but only k={k} seats exist")
    return found.tolist()


def _names(ids: Collection[Hashable]) -> str:
    return ", ".join(repr(person) for person in ids)


def _targets(candidates: Sequence[Candidate], size: int, mode: str) -> tuple[dict, dict]:
    return _spread(Counter(map(DEPARTMENTS, candidates)), size, mode), _spread(Counter(map(LEVELS, candidates)), size, mode)


def _spread(available: dict, size: int, mode: str) -> dict[Hashable, Fraction]:
    return (_water_fill if mode == "even" else _proportional)(available, size)


def _water_fill(available: dict, size: int) -> dict[Hashable, Fraction]:
    remaining, groups_left, ceiling = size, len(available), Fraction(0)
    for count in sorted(available.values()):
        if count * groups_left >= remaining:
            ceiling = Fraction(remaining, groups_left)
            break
        remaining -= count
        groups_left -= 1
    return {group: min(Fraction(count), ceiling) for group, count in available.items()}


def _proportional(available: dict, size: int) -> dict[Hashable, Fraction]:
    total = sum(available.values())
    return {group: Fraction(size * count, total) for group, count in available.items()}


def _deviation(candidates: Sequence[Candidate], chosen: list[Candidate], size: int, mode: str) -> Fraction:
    dept_target, level_target = _targets(candidates, size, mode)
    dept_count = Counter(person.department for person in chosen)
    level_count = Counter(person.level for person in chosen)
    return sum(abs(dept_count[d] - t) for d, t in dept_target.items()) + sum(
        abs(level_count[l] - t) for l, t in level_target.items()
    )


class _Flow:
    """The department -> cell -> level flow, solved by successive shortest paths with exact integer costs."""

    def __init__(self, pool: Columns, must_indices, size, mode, seed, costs=None, sizes=None):
        self.size = size
        count = len(pool)
        departments, dept_code = _distinct(pool.department)
        levels, level_code = _distinct(pool.level)
        departments, levels = departments.tolist(), levels.tolist()
        dept_sizes = np.bincount(dept_code, minlength=len(departments)).tolist()
        level_sizes = np.bincount(level_code, minlength=len(levels)).tolist()
        if sizes is not None:  # the targets of a larger pool that these candidates stand in for
            dept_sizes = [sizes[0][pool.departments[dept]] for dept in departments]
            level_sizes = [sizes[1][level] for level in levels]
        dept_target = _spread(dict(enumerate(dept_sizes)), size, mode)
        level_target = _spread(dict(enumerate(level_sizes)), size, mode)

        # People are known by their rotation position p (sorted by cost first when costs are given)
        # and priced key = cost * modulus + p: the cost sum decides, then the sum of positions.
        self.order = rotation_indices(pool, seed)
        self.modulus = max(size, 1) * count + 1
        keys = np.arange(count)
        top = int(np.max(costs)) if costs is not None and len(costs) else 0
        if top:  # Python integers when cost * modulus may not fit in 64 bits
            wide = (top + 1) * self.modulus >= 2**63
            ranked = np.asarray(costs, dtype=object if wide else np.int64)[self.order]
            resorted = np.argsort(ranked, kind="stable")
            self.order = self.order[resorted]
            keys = ranked[resorted] * self.modulus + keys

        # Scale so that every target, hence every deviation step, is an integer; one unit of
        # deviation then outweighs any difference in the sum of keys.
        self.scale = lcm(*(t.denominator for t in [*dept_target.values(), *level_target.values()]))
        self.weight = size * (int(keys.max()) + 1 if count else 0) + 1
        self.dept_goal = [int(dept_target[d] * self.scale) for d in range(len(departments))]
        self.level_goal = [int(level_target[l] * self.scale) for l in range(len(levels))]

        # A cell lists its must people first, then the others by key, and no cell can use more
        # than its must people plus `size`.
        cell = (dept_code * len(levels) + level_code)[self.order]
        is_must = np.zeros(count, bool)
        is_must[must_indices] = True
        is_must = is_must[self.order]
        grouped = np.argsort(_narrow(cell * 2 + ~is_must), kind="stable")
        every_size = np.bincount(cell, minlength=len(departments) * len(levels))
        codes = np.flatnonzero(every_size)
        starts, sizes = (np.cumsum(every_size) - every_size)[codes], every_size[codes]
        musts = np.bincount(cell[is_must], minlength=len(departments) * len(levels))[codes]
        self.is_must = is_must
        self.cells = [divmod(code, len(levels)) for code in codes.tolist()]
        self.members = [
            keys[grouped[start : start + min(total, floor + size)]].tolist()
            for start, total, floor in zip(starts.tolist(), sizes.tolist(), musts.tolist())
        ]
        self.floor = musts.tolist()
        self.room = [len(people) for people in self.members]
        self.count = list(self.floor)
        self.dept_count = [0] * len(departments)
        self.level_count = [0] * len(levels)
        self.dept_cells = [[] for _ in departments]
        self.level_removable = [{} for _ in levels]  # cells holding more than their must people
        for c, (d, l) in enumerate(self.cells):
            self.dept_cells[d].append(c)
            self.dept_count[d] += self.count[c]
            self.level_count[l] += self.count[c]
        self.dept_step = [self._step(self.dept_goal[d], self.dept_count[d]) for d in range(len(departments))]

    def _step(self, goal: int, count: int) -> int:
        """Scaled deviation cost of one more person in a group that has `count`."""
        return (abs(self.scale * (count + 1) - goal) - abs(self.scale * count - goal)) * self.weight

    def solve(self) -> list[int]:
        """Candidate indices of the optimal selection: must people first, then rotation order."""
        if self.size == len(self.order):
            self.count = list(self.room)
        for _ in range(self.size - sum(self.count)):
            self._augment()
        chosen = sorted(
            (not self.is_must[p], p)
            for c, keys in enumerate(self.members)
            for p in (key % self.modulus for key in keys[: self.count[c]])
        )
        return self.order[[p for _, p in chosen]].tolist()

    def _augment(self) -> None:
        """Send one more unit along a cheapest residual path (queue-based Bellman-Ford: costs may be negative)."""
        cells, members, count, floor, room = self.cells, self.members, self.count, self.floor, self.room
        departments, levels = len(self.dept_count), len(self.level_count)
        dept_dist = list(self.dept_step)
        level_dist = [None] * levels
        dept_via: list[int | None] = [None] * departments
        level_via: list[int | None] = [None] * levels
        queue, queued = deque(range(departments)), [True] * departments + [False] * levels
        while queue:
            node = queue.popleft()
            queued[node] = False
            if node < departments:
                base = dept_dist[node]
                for c in self.dept_cells[node]:
                    if count[c] < room[c]:
                        l = cells[c][1]
                        dist = base + members[c][count[c]]
                        if level_dist[l] is None or dist < level_dist[l]:
                            level_dist[l], level_via[l] = dist, c
                            if not queued[departments + l]:
                                queued[departments + l] = True
                                queue.append(departments + l)
            else:
                l = node - departments
                base = level_dist[l]
                for c in self.level_removable[l]:
                    d = cells[c][0]
                    dist = base - members[c][count[c] - 1]
                    if dist < dept_dist[d]:
                        dept_dist[d], dept_via[d] = dist, c
                        if not queued[d]:
                            queued[d] = True
                            queue.append(d)
        end = min(
            (level_dist[l] + self._step(self.level_goal[l], self.level_count[l]), l)
            for l in range(levels)
            if level_dist[l] is not None
        )[1]
        self.level_count[end] += 1
        l = end
        while True:
            c = level_via[l]
            count[c] += 1
            self.level_removable[l][c] = None
            d = cells[c][0]
            if dept_via[d] is None:
                self.dept_count[d] += 1
                self.dept_step[d] = self._step(self.dept_goal[d], self.dept_count[d])
                return
            c = dept_via[d]
            count[c] -= 1
            l = cells[c][1]
            if count[c] == floor[c]:
                del self.level_removable[l][c]
