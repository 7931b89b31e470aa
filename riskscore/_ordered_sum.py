"""numpy's sum of a long sequence, bit for bit, from pieces of it held by different processes.

``np.add.reduce`` over a contiguous float64 array adds pairwise: a stretch of at most 128 values is added
with eight running sums, a longer one is split at half its length rounded down to a multiple of eight and
its halves' sums are added. The result depends on where the splits fall, which depends only on the
sequence's length. A process holding positions ``offset .. offset + len(values)`` of a sequence of
``total`` values can therefore add every stretch of the split tree that lies wholly in its hands
(:func:`pieces`), and hand over the values of the at most two leaf stretches it shares with its neighbours;
:func:`combine` joins the pieces of all processes into exactly ``np.add.reduce`` of the whole sequence.
:func:`check_numpy` checks on this process that numpy still adds this way, so that a numpy that changed its
summation order raises instead of giving a state that silently differs in the last bits.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from numpy.typing import NDArray

__all__ = ["Pieces", "check_numpy", "combine", "pieces"]

_LEAF = 128  # numpy's PW_BLOCKSIZE: stretches up to this length are added in one block

# (sums of the stretches wholly held, by (first, end) position; values of shared leaf stretches, by
# (first, end) -> list of (first position held, values))
Pieces = tuple[dict[tuple[int, int], float], dict[tuple[int, int], list[tuple[int, NDArray[np.float64]]]]]


def _split(n: int) -> int:
    half = n // 2
    return half - half % 8


def pieces(values: NDArray[np.float64], offset: int, total: int) -> Pieces:
    """Return the sums of the split tree's stretches within ``values`` (positions ``offset..`` of ``total``)."""
    sums: dict[tuple[int, int], float] = {}
    shared: dict[tuple[int, int], list[tuple[int, NDArray[np.float64]]]] = {}
    a, b = offset, offset + len(values)
    if not len(values):
        return sums, shared
    if not 0 <= offset and b <= total:
        raise ValueError(f"positions {a}..{b} lie outside a sequence of {total} values")
    stack = [(0, total)]
    while stack:
        lo, hi = stack.pop()
        if hi <= a or lo >= b:
            continue
        if a <= lo and hi <= b:
            sums[lo, hi] = float(np.add.reduce(values[lo - a : hi - a]))
        elif hi - lo <= _LEAF:
            first, end = max(lo, a), min(hi, b)
            shared[lo, hi] = [(first, np.array(values[first - a : end - a], dtype=np.float64))]
        else:
            mid = lo + _split(hi - lo)
            stack += [(lo, mid), (mid, hi)]
    return sums, shared


def combine(total: int, parts: list[Pieces]) -> float:
    """Return ``np.add.reduce`` of the whole ``total``-long sequence from every holder's :func:`pieces`."""
    sums: dict[tuple[int, int], float] = {}
    shared: dict[tuple[int, int], list[tuple[int, NDArray[np.float64]]]] = {}
    for s, sh in parts:
        sums.update(s)
        for node, frags in sh.items():
            shared.setdefault(node, []).extend(frags)

    def value(lo: int, hi: int) -> float:
        known = sums.get((lo, hi))
        if known is not None:
            return known
        if hi - lo <= _LEAF:
            frags = sorted(shared.get((lo, hi), []), key=lambda f: f[0])
            leaf = np.concatenate([f[1] for f in frags]) if frags else np.zeros(0)
            if len(leaf) != hi - lo:
                raise ValueError(f"the pieces hold {len(leaf)} of the {hi - lo} values at {lo}..{hi}")
            return float(np.add.reduce(leaf))
        mid = lo + _split(hi - lo)
        return value(lo, mid) + value(mid, hi)  # the same IEEE addition numpy's pairwise step makes

    return value(0, total) if total else 0.0


@functools.cache
def check_numpy() -> None:
    """Raise RuntimeError if this numpy does not add a float64 array the way :func:`combine` reproduces."""
    rng = np.random.default_rng(20260101)
    for n in (1, 7, 8, 129, 1_000, 70_001, 1_000_003):
        x = rng.standard_normal(n) * np.exp(rng.standard_normal(n) * 8)
        cuts = [0, *sorted(int(c) for c in rng.integers(0, n, 3)), n]
        parts = [pieces(x[lo:hi], lo, n) for lo, hi in itertools.pairwise(cuts)]
        if combine(n, parts) != float(np.add.reduce(x)):
            raise RuntimeError(
                f"numpy {np.__version__} adds float64 arrays in another order than riskscore reproduces "
                "(pairwise, blocks of 128), so a sum over partitions would differ from the one-machine sum in "
                "the last bits; fit this spec's reference features on one machine (riskscore.train)"
            )
