"""One-row LightGBM prediction through the C API's single-row fast path, one config per thread.

``Booster.predict`` on one row spends most of its time in Python-side checks and buffer set-up; the C
API's ``LGBM_BoosterPredictForMatSingleRowFast`` reuses a prepared configuration. Each thread gets its own
configuration (LightGBM keeps the per-prediction buffers in it since 4.1), so concurrent calls neither
lock each other nor share buffers. If the entry points are missing or fail, callers fall back to
``Booster.predict``; tests hold both paths to the same numbers, bit for bit.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Any

import numpy as np

__all__ = ["SingleRowPredictor"]

_PREDICT_NORMAL = 0
_DTYPE_FLOAT64 = 1


def _free_all(lib: Any, handles: list[ctypes.c_void_p]) -> None:
    for h in handles:
        lib.LGBM_FastConfigFree(h)
    handles.clear()


class SingleRowPredictor:
    """Predict one row of a booster, reusing a per-thread fast configuration."""

    def __init__(self, booster: Any, num_iteration: int, ncol: int) -> None:
        from lightgbm.basic import _LIB, _safe_call

        self._lib, self._safe_call = _LIB, _safe_call
        self._booster = booster  # keeps the booster (and its C handle) alive as long as we are
        self._num_iteration = int(num_iteration)
        self._ncol = int(ncol)
        self._local = threading.local()
        self._handles: list[ctypes.c_void_p] = []
        self._lock = threading.Lock()
        self._fn = _LIB.LGBM_BoosterPredictForMatSingleRowFast
        weakref.finalize(self, _free_all, _LIB, self._handles)
        self.predict(np.zeros(self._ncol))  # fail now, not on the first record, if the C path is unusable

    def _thread_state(self) -> tuple[Any, ...]:
        """Return this thread's (fast config, input buffer and pointer, output and pointer, length pointer)."""
        state = getattr(self._local, "state", None)
        if state is None:
            handle = ctypes.c_void_p()
            self._safe_call(
                self._lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                    self._booster._handle,
                    ctypes.c_int(_PREDICT_NORMAL),
                    ctypes.c_int(0),
                    ctypes.c_int(self._num_iteration),
                    ctypes.c_int(_DTYPE_FLOAT64),
                    ctypes.c_int32(self._ncol),
                    ctypes.c_char_p(b"num_threads=1"),
                    ctypes.byref(handle),
                )
            )
            with self._lock:
                self._handles.append(handle)
            row = (ctypes.c_double * self._ncol)()
            out = ctypes.c_double(0.0)
            out_len = ctypes.c_int64(0)
            state = (
                handle,
                row,
                ctypes.cast(row, ctypes.c_void_p),
                out,
                ctypes.pointer(out),
                ctypes.pointer(out_len),
            )
            self._local.state = state
        return state

    def predict(self, row: Any) -> float:
        """Return the booster's prediction (a probability for binary models) for one row of floats.

        ``row`` is a sequence of ``ncol`` floats (a list is fastest) or a float64 array.
        """
        handle, buf, buf_p, out, out_p, len_p = self._thread_state()
        buf[:] = row if isinstance(row, list) else np.asarray(row, dtype=np.float64).tolist()
        rc = self._fn(handle, buf_p, len_p, out_p)
        if rc != 0:
            self._safe_call(rc)  # raises LightGBMError with LightGBM's message
        return float(out.value)
