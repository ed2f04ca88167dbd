"""Who sits with whom: the Maximally Diverse Grouping Problem (MDGP).

`partition` splits n people into groups whose sizes lie within given bounds so that the
sum of `weights[i][j]` over the pairs sharing a group is as large as possible.

Method. Up to `EXACT_MAX_N` people the answer is exact: a dynamic programme over subsets
gives each group in turn the best subset of the people still free (well under 0.2 s).
Above that a memetic search (a small pool of tabu-searched splits, recombined) runs
until the deadline:

* Sizes: the groups get the sizes with the most pairs (a small dynamic programme over
  the bounds); the search then swaps people, and every `MOVE_EVERY` steps moves one
  person to another group if that improves the split more than the best swap.
* Tabu search: the state keeps `sums[i, g]`, the weight between i and everyone in group g,
  so the gain of moving i to g is `sums[i, g] - sums[i, own]`, the gains of all swaps form
  one n x n float32 numpy expression, and a change updates two columns in O(n). Each step
  takes the best swap whose people are not tabu; a person who changed group stays put for
  a random tenure unless the swap beats the best value of the run (aspiration). A run ends
  after `STALL_STEPS` x n steps without improvement. A tiny seeded jitter on the pair
  weights breaks ties between equal gains (integer weights have many).
* Pool: `POOL_SIZE` random splits, each tabu-searched; then each generation builds a child
  that keeps whole groups of two random parents, alternately, fills the rest at random,
  tabu-searches it and replaces the worst member when better and new.

The search is deterministic for a given seed only when it gets the same amount of work:
it stops on the wall clock, so a loaded machine can end it earlier and return another split.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

EXACT_MAX_N = 12
_BLOCKED = -1e18
STALL_STEPS = 5
TENURE = (0.02, 0.07)
POOL_SIZE = 6
MOVE_EVERY = 8


def partition(
    weights: Sequence[Sequence[float]],
    bounds: Sequence[tuple[int, int]],
    *,
    seconds: float = 1.0,
    seed: int = 0,
    pinned: Mapping[int, int] | None = None,
) -> list[int]:
    """Return the group of each element, maximising the weight of pairs sharing a group."""
    deadline = time.perf_counter() + seconds
    matrix = _checked_weights(weights)
    n = len(matrix)
    lower, upper = _checked_bounds(bounds)
    fixed = _checked_pins(pinned or {}, n, lower, upper)
    if n == 0:
        return []
    if len(lower) == 1:
        return [0] * n
    if n <= EXACT_MAX_N:
        return _exact(matrix, lower, upper, fixed)
    search = _Search(matrix, lower, upper, fixed, np.random.default_rng(seed))
    return search.run(deadline).tolist()


def objective(weights: Sequence[Sequence[float]], groups: Sequence[int]) -> float:
    """Return the sum of weights over the pairs that share a group."""
    matrix = np.asarray(weights, dtype=float)
    labels = np.asarray(groups)
    if len(labels) == 0:
        return 0.0
    return float(np.triu(matrix, 1)[labels[:, None] == labels[None, :]].sum())


def _checked_weights(weights) -> np.ndarray:
    matrix = np.array(weights, dtype=float)
    if matrix.size == 0:
        return np.zeros((0, 0))
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError("weights must be a square matrix")
    if not np.all(np.isfinite(matrix)) or not np.allclose(matrix, matrix.T) or np.any(matrix < 0):
        raise ValueError("weights must be finite, symmetric and non-negative")
    np.fill_diagonal(matrix, 0.0)
    return matrix


def _checked_bounds(bounds) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.array([tuple(pair) for pair in bounds], dtype=int).reshape(-1, 2)
    if len(pairs) == 0:
        raise ValueError("at least one group is needed")
    lower, upper = pairs[:, 0], pairs[:, 1]
    if np.any(lower < 0) or np.any(lower > upper):
        raise ValueError("every group needs 0 <= min <= max")
    return lower, upper


def _checked_pins(pinned: Mapping[int, int], n: int, lower, upper) -> np.ndarray:
    """Return the pinned group of each element (-1 when free) after checking feasibility."""
    fixed = np.full(n, -1)
    for element, group in pinned.items():
        if not (0 <= element < n and 0 <= group < len(lower)):
            raise ValueError(f"pin {element} -> {group} is out of range")
        fixed[element] = group
    pinned_count = np.bincount(fixed[fixed >= 0], minlength=len(lower))
    free = n - pinned_count.sum()
    still_needed = np.maximum(lower - pinned_count, 0).sum()
    room = (upper - pinned_count).sum()
    if np.any(pinned_count > upper) or still_needed > free or room < free:
        raise ValueError(f"no split of {n} elements fits the bounds and pins")
    return fixed


@lru_cache(maxsize=4)
def _subset_pairs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return every (set, subset) pair of bitmasks over n bits, sorted by set, and each set's start."""
    sets, subsets = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    for bit in (1 << np.arange(n)).tolist():
        sets = np.concatenate([sets, sets | bit, sets | bit])
        subsets = np.concatenate([subsets, subsets, subsets | bit])
    order = np.argsort(sets, kind="stable")
    sets, subsets = sets[order], subsets[order]
    starts = np.searchsorted(sets, np.arange(1 << n))
    return sets, subsets, starts


def _exact(matrix, lower, upper, fixed) -> list[int]:
    """Return an optimal split by dynamic programming over subsets (small n only)."""
    n, group_count = len(matrix), len(lower)
    masks = np.arange(1 << n)
    members = (masks[:, None] >> np.arange(n)) & 1
    inside = 0.5 * np.einsum("si,ij,sj->s", members, matrix, members)
    size = members.sum(axis=1)
    bit = 1 << np.arange(n)
    sets, subsets, starts = _subset_pairs(n)

    def allowed(group):
        required = int(bit[fixed == group].sum())
        forbidden = int(bit[(fixed >= 0) & (fixed != group)].sum())
        ok = (size >= lower[group]) & (size <= upper[group])
        ok &= (masks & required) == required
        ok &= (masks & forbidden) == 0
        return np.where(ok, inside, -np.inf)

    best_so_far = allowed(0)
    choices = []
    for group in range(1, group_count):
        candidate = best_so_far[sets ^ subsets] + allowed(group)[subsets]
        best_so_far = np.maximum.reduceat(candidate, starts)
        choices.append(candidate)
    labels = np.zeros(n, dtype=int)
    remaining = (1 << n) - 1
    for group in range(group_count - 1, 0, -1):
        span = slice(starts[remaining], starts[remaining + 1] if remaining + 1 < len(starts) else None)
        chosen = int(subsets[span][np.argmax(choices[group - 1][span])])
        labels[(chosen & bit) != 0] = group
        remaining ^= chosen
    return labels.tolist()


class _Search:
    """Memetic tabu search over swaps and improving moves, with incremental gain sums."""

    def __init__(self, matrix, lower, upper, fixed, rng):
        self.matrix, self.lower, self.upper, self.fixed, self.rng = matrix, lower, upper, fixed, rng
        self.n, self.group_count = len(matrix), len(lower)
        self.free = np.flatnonzero(fixed < 0)
        self.has_moves = bool(np.any(lower < upper))
        self.target_sizes = self.sizes_with_most_pairs()
        scale = float(matrix.mean()) or 1.0
        jitter = rng.uniform(0.0, 1e-3 * scale, size=matrix.shape)
        self.pair_cost = (-2.0 * matrix - jitter - jitter.T).astype(np.float32)

    def sizes_with_most_pairs(self) -> np.ndarray:
        """Return group sizes within the bounds and pins that give the most pairs (ties broken at random)."""
        pinned_count = np.bincount(self.fixed[self.fixed >= 0], minlength=self.group_count)
        lower = np.maximum(self.lower, pinned_count)
        best = np.zeros(1)
        choices = []
        for group in range(self.group_count):
            sizes = np.arange(lower[group], self.upper[group] + 1)
            score = sizes * (sizes - 1) / 2 + self.rng.uniform(0, 1e-3, len(sizes))
            options = np.full((len(sizes), len(best) + sizes[-1]), -np.inf)
            for row, size in enumerate(sizes):
                options[row, size : size + len(best)] = best + score[row]
            choices.append(sizes[np.argmax(options, axis=0)])
            best = options.max(axis=0)
        sizes = np.zeros(self.group_count, dtype=int)
        total = self.n
        for group in range(self.group_count - 1, -1, -1):
            sizes[group] = choices[group][total]
            total -= sizes[group]
        return sizes

    def random_split(self) -> np.ndarray:
        """Return a random assignment with the most-pairs sizes that respects the pins."""
        labels = self.fixed.copy()
        room = self.target_sizes - np.bincount(labels[labels >= 0], minlength=self.group_count)
        labels[self.rng.permutation(self.free)] = np.repeat(np.arange(self.group_count), room)
        return labels

    def load(self, labels):
        """Make `labels` the current split and rebuild the incremental sums."""
        self.labels = labels.copy()
        onehot = np.zeros((self.n, self.group_count))
        onehot[np.arange(self.n), labels] = 1.0
        self.sums = self.matrix @ onehot
        self.count = np.bincount(labels, minlength=self.group_count)
        self.value = 0.5 * float(self.sums[np.arange(self.n), labels].sum())

    def move(self, element, group):
        """Put `element` into `group`, updating the sums in O(n)."""
        old = self.labels[element]
        column = self.matrix[:, element]
        self.value += self.sums[element, group] - self.sums[element, old]
        self.sums[:, old] -= column
        self.sums[:, group] += column
        self.labels[element] = group
        self.count[old] -= 1
        self.count[group] += 1

    def swap(self, i, j):
        """Exchange the groups of i and j, updating the sums in O(n)."""
        sums, labels = self.sums, self.labels
        group_i, group_j = labels[i], labels[j]
        self.value += sums[i, group_j] - sums[i, group_i] + sums[j, group_i] - sums[j, group_j] - 2 * self.matrix[i, j]
        shift = self.matrix[:, j] - self.matrix[:, i]
        sums[:, group_i] += shift
        sums[:, group_j] -= shift
        labels[i], labels[j] = group_j, group_i

    def run(self, deadline) -> np.ndarray:
        """Evolve a pool of tabu-searched splits until the deadline and return the best."""
        pool = []
        while not pool or (time.perf_counter() < deadline and len(pool) < POOL_SIZE):
            self.load(self.random_split())
            self.tabu(deadline)
            pool.append((self.value_best, self.labels_best))
        while time.perf_counter() < deadline and len(pool) > 1:
            first, second = self.rng.choice(len(pool), 2, replace=False)
            self.load(self.crossover(pool[first][1], pool[second][1]))
            self.tabu(deadline)
            worst = min(range(len(pool)), key=lambda k: pool[k][0])
            is_new = all(abs(self.value_best - value) > 1e-6 for value, _ in pool)
            if is_new and self.value_best > pool[worst][0]:
                pool[worst] = (self.value_best, self.labels_best)
        return max(pool, key=lambda member: member[0])[1]

    def crossover(self, first, second) -> np.ndarray:
        """Return a child that keeps whole groups of both parents, alternately, and fills the rest at random."""
        child = self.fixed.copy()
        open_labels = np.ones(self.group_count, dtype=bool)
        parents = [first, second]
        for turn in range(self.group_count):
            parent = parents[turn % 2]
            counts = np.bincount(parent[child < 0], minlength=self.group_count).astype(float)
            counts += self.rng.uniform(0, 0.5, self.group_count)
            source = int(np.argmax(counts))
            members = np.flatnonzero((parent == source) & (child < 0))
            current = np.bincount(child[child >= 0], minlength=self.group_count)
            fits = open_labels & (self.target_sizes - current >= len(members))
            if not fits.any():
                continue
            label = source if fits[source] else int(np.flatnonzero(fits)[self.rng.integers(fits.sum())])
            child[members] = label
            open_labels[label] = False
        room = self.target_sizes - np.bincount(child[child >= 0], minlength=self.group_count)
        child[self.rng.permutation(np.flatnonzero(child < 0))] = np.repeat(np.arange(self.group_count), room)
        return child

    def tabu(self, deadline):
        """Tabu-search from the current split until it stalls or time is up; keep the best in *_best."""
        n, group_count = self.n, self.group_count
        rows = np.arange(n)
        pinned = self.fixed >= 0
        any_pinned = bool(pinned.any())
        tabu_until = np.zeros(n, dtype=np.int64)
        tenure_low, tenure_high = max(2, int(n * TENURE[0])), max(4, int(n * TENURE[1])) + 1
        tenures = self.rng.integers(tenure_low, tenure_high, 4096).tolist()
        labels, sums, count, pair_cost = self.labels, self.sums, self.count, self.pair_cost
        self.labels_best, self.value_best = labels.copy(), self.value
        step = last_gain = 0
        while step - last_gain < STALL_STEPS * n and time.perf_counter() < deadline:
            step += 1
            delta = (sums - sums[rows, labels][:, None]).astype(np.float32)
            delta[rows, labels] = _BLOCKED
            if any_pinned:
                delta[pinned] = _BLOCKED
            tabu = np.flatnonzero(tabu_until > step)
            changed = None
            if len(tabu):
                near = delta[tabu][:, labels]
                near += delta[:, labels[tabu]].T
                near += pair_cost[tabu]
                flat = int(np.argmax(near))
                if self.value + near.flat[flat] > self.value_best + 1e-6:
                    changed = (tabu[flat // n], flat % n)
                delta[tabu] = _BLOCKED
            if changed is None:
                swaps = delta[:, labels]
                swaps = swaps + swaps.T
                swaps += pair_cost
                flat = int(np.argmax(swaps))
                gain = swaps.flat[flat]
                changed = divmod(flat, n)
                if self.has_moves and step % MOVE_EVERY == 0:
                    moves = delta + np.where(count < self.upper, 0.0, _BLOCKED)[None, :]
                    moves += np.where(count > self.lower, 0.0, _BLOCKED)[labels][:, None]
                    best_move = int(np.argmax(moves))
                    if moves.flat[best_move] > max(gain, 1e-6):
                        gain, changed = moves.flat[best_move], (best_move // group_count, -1)
                if gain <= _BLOCKED / 2:
                    break
            i, j = changed
            if j < 0:
                self.move(i, best_move % group_count)
            else:
                self.swap(i, j)
                tabu_until[j] = step + tenures[(step + 1) & 4095]
            tabu_until[i] = step + tenures[step & 4095]
            if self.value > self.value_best + 1e-9:
                self.labels_best, self.value_best = labels.copy(), self.value
                last_gain = step
