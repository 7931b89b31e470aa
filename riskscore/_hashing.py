"""Hashing of record keys, shared by the batch path and the one-record path.

A history or reference key (an importer, an HS code cut to 4 digits, an importer x HS pair) is a 64-bit
hash of its text parts. The batch path hashes arrays with pandas' ``hash_array`` (SipHash-2-4, then a
64-bit mix); the one-record path hashes one text with the same function (``text_hasher``) and combines
parts with the same arithmetic, so both find the same rows of the fitted tables.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["M64", "MISSING", "MIX", "hash_key", "split_key", "text_codes", "text_hasher"]

MIX = np.uint64(0x9E3779B97F4A7C15)  # combines the parts of a key: key = key * MIX + part
MISSING = np.uint64(0x5BD1E9955BD1E995)  # the hash of a missing part
M64 = 0xFFFFFFFFFFFFFFFF
_PANDAS_KEY = "0123456789123456"  # pandas' default hash key
_CACHE_LIMIT = 200_000  # memoised text hashes (a few tens of MB at most)


def split_key(item: str) -> tuple[str, int | None]:
    """``"hs_code:4"`` -> ``("hs_code", 4)``: a column and the length of its prefix (None: all of it)."""
    name, _, cut = item.partition(":")
    return name, int(cut) if cut else None


def text_codes(series: pd.Series, prefix: int | None = None) -> tuple[NDArray[np.object_], NDArray[np.intp]]:
    """(distinct values as str, code per row; -1 = missing), cheap for categoricals."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = series.cat.categories.astype(str).to_numpy(dtype=object)
        codes = series.cat.codes.to_numpy().astype(np.intp)
    else:
        missing = series.isna().to_numpy()
        codes_, uniq = pd.factorize(series.astype(str).where(~missing), use_na_sentinel=True)
        cats, codes = np.asarray(uniq, dtype=object), codes_.astype(np.intp)
    if prefix is not None:
        cut = pd.Series(cats, dtype=object).str[:prefix].to_numpy(dtype=object)
        codes2, uniq2 = pd.factorize(cut)
        codes = np.where(codes >= 0, codes2[codes.clip(0)], -1) if len(cats) else codes
        cats = np.asarray(uniq2, dtype=object)
    return cats, codes


def hash_key(frame: pd.DataFrame, columns: tuple[str, ...]) -> NDArray[np.uint64]:
    """64-bit hash of the (possibly prefix-cut) values of columns, row by row; missing hashes to a constant."""
    out: NDArray[np.uint64] | None = None
    for item in columns:
        name, cut = split_key(item)
        cats, codes = text_codes(frame[name], cut)
        cat_h = pd.util.hash_array(cats, categorize=False) if len(cats) else np.zeros(0, dtype=np.uint64)
        h = np.where(codes >= 0, cat_h[codes.clip(0)] if len(cats) else MISSING, MISSING).astype(np.uint64)
        out = h if out is None else (out * MIX + h) & np.uint64(M64)
    assert out is not None
    return out


def _mix(v: int) -> int:
    """Mix a hash as pandas does last (64-bit of a hash ; core/util/hashing.py), on Python ints."""
    v ^= v >> 30
    v = (v * 0xBF58476D1CE4E5B9) & M64
    v ^= v >> 27
    v = (v * 0x94D049BB133111EB) & M64
    return v ^ (v >> 31)


def text_hasher(hash_key: str = _PANDAS_KEY, *, memo: bool = True) -> Callable[[str], int]:
    """Return a function: text -> the uint64 (as int) ``pd.util.hash_array`` gives it (memoised if ``memo``).

    Uses pandas' compiled SipHash directly (no array checks, no numpy mixing); checked against the public
    function on sample texts when built, and replaced by the public function if pandas ever differs.
    """
    cache: dict[str, int] = {}

    def public(text: str) -> int:
        arr = np.array([text], dtype=object)
        return int(pd.util.hash_array(arr, hash_key=hash_key, categorize=False)[0])

    raw: Callable[[str], int] = public
    try:
        from pandas._libs.hashing import hash_object_array

        def direct(text: str) -> int:
            return _mix(int(hash_object_array(np.array([text], dtype=object), hash_key, "utf8")[0]))

        samples = ["", "CN", "IMP000123", "8517", "é☃ 🚢", "x" * 300]
        if all(direct(s) == public(s) for s in samples):
            raw = direct
    except Exception:  # pragma: no cover - a pandas without the private entry point
        raw = public

    if not memo:
        return raw

    def hasher(text: str) -> int:
        h = cache.get(text)
        if h is None:
            h = raw(text)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[text] = h
        return h

    return hasher
