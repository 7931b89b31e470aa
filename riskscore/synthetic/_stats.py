"""Log-densities the generators sample from, so the oracle can evaluate exactly what was drawn.

Every mechanism shifts a log-normal field by a log-uniform factor; the density of the result is a normal
convolved with a uniform, which has a closed form in normal CDFs. Working in logs keeps everything stable.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import log_ndtr

Float = NDArray[np.float64]

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


def norm_logpdf(x: Float, mu: Float | float, sigma: Float | float) -> Float:
    """Log-density of N(mu, sigma^2) at x."""
    z = (x - mu) / sigma
    return np.asarray(-0.5 * z * z - np.log(sigma) - _LOG_SQRT_2PI, dtype=np.float64)


def log_diff_ndtr(hi: Float, lo: Float) -> Float:
    """log(Phi(hi) - Phi(lo)) for hi > lo, accurate in both tails."""
    # Reflect so both arguments sit in the lower tail, where log_ndtr is accurate.
    flip = (hi + lo) > 0
    a = np.where(flip, -lo, hi)
    b = np.where(flip, -hi, lo)
    la, lb = log_ndtr(a), log_ndtr(b)
    with np.errstate(divide="ignore"):
        return np.asarray(la + np.log1p(-np.exp(np.minimum(lb - la, 0.0))), dtype=np.float64)


def shifted_logpdf(x: Float, mu: Float | float, sigma: Float | float, lo: float, hi: float) -> Float:
    """Log-density of X + A, X ~ N(mu, sigma^2), A ~ U(lo, hi) independent (lo < hi, in log space)."""
    s = np.asarray(sigma, dtype=np.float64)
    upper = (x - mu - lo) / s
    lower = (x - mu - hi) / s
    return np.asarray(log_diff_ndtr(upper, lower) - np.log(hi - lo), dtype=np.float64)


def quantity(x: Float, piece: NDArray[np.bool_]) -> Float:
    """Log quantity from a normal draw ``x`` of it: whole pieces (at least one) where ``piece``, else as drawn."""
    return np.asarray(np.where(piece, np.log(np.maximum(1.0, np.rint(np.exp(x)))), x), dtype=np.float64)


def quantity_logpdf(lq: Float, mu: Float, sigma: Float | float, piece: NDArray[np.bool_]) -> Float:
    """Log-probability (pieces) or log-density (other units) of a log quantity drawn by :func:`quantity`.

    A count of k pieces is exp(x) rounded, at least one: P(k) = Phi(log(k + 1/2)) - Phi(log(k - 1/2)) on the
    standardised scale, with everything below 1.5 counted as one piece.
    """
    mu = np.broadcast_to(np.asarray(mu, dtype=np.float64), lq.shape)
    s = np.broadcast_to(np.asarray(sigma, dtype=np.float64), lq.shape)
    out = norm_logpdf(lq, mu, s)
    r = np.flatnonzero(piece)
    if len(r):
        k = np.exp(lq[r])
        hi = (np.log(k + 0.5) - mu[r]) / s[r]
        lo = np.where(k < 1.5, -np.inf, (np.log(np.maximum(k - 0.5, 0.5)) - mu[r]) / s[r])
        out[r] = log_diff_ndtr(hi, lo)
    return out


def log_uniform(rng: np.random.Generator, lo: float, hi: float, size: int) -> Float:
    """Draw log(F) for F log-uniform on [lo, hi]: i.e. U(log lo, log hi)."""
    return rng.uniform(np.log(lo), np.log(hi), size)


def categorical(rng: np.random.Generator, cum: Float, size: int) -> NDArray[np.intp]:
    """Draw indices from a cumulative distribution (last entry 1)."""
    return np.searchsorted(cum, rng.random(size), side="right").clip(0, len(cum) - 1)


_FLAT_CACHE: dict[int, tuple[Float, Float]] = {}


def _flat(cum_rows: Float) -> Float:
    """Return the flattened, offset table of a cumulative matrix, built once per matrix."""
    hit = _FLAT_CACHE.get(id(cum_rows))
    if hit is not None and hit[0] is cum_rows:
        return hit[1]
    flat = (cum_rows + np.arange(cum_rows.shape[0])[:, None]).ravel()
    if len(_FLAT_CACHE) > 64:
        _FLAT_CACHE.clear()
    _FLAT_CACHE[id(cum_rows)] = (cum_rows, flat)
    return flat


def rowwise_categorical(cum_rows: Float, rows: NDArray[np.intp], u: Float) -> NDArray[np.intp]:
    """Draw one column index per record from per-row cumulative distributions.

    ``cum_rows`` is (R, K) with each row's last entry 1; adding the row number makes the flattened array
    monotone, so one searchsorted serves every record.
    """
    k = cum_rows.shape[1]
    if k <= 8:
        # few columns: count the row's cumulative entries <= u directly (what the search below returns),
        # cheaper than a binary search over a large flattened table
        below = np.zeros(len(rows), dtype=np.intp)
        for j in range(k - 1):
            below += cum_rows[rows, j] <= u
        return below
    flat = _flat(cum_rows)
    idx = np.searchsorted(flat, rows + u, side="right")
    return np.asarray(idx - rows * k, dtype=np.intp).clip(0, k - 1)


def normalise_log(logw: Float) -> Float:
    """Turn an (n, k) array of log-weights into probabilities row by row (log-sum-exp)."""
    m = np.max(logw, axis=1, keepdims=True)
    w = np.exp(logw - m)
    return np.asarray(w / w.sum(axis=1, keepdims=True), dtype=np.float64)
