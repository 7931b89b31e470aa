"""One-row LightGBM prediction through the C API's single-row fast path, one config per thread.

``Booster.predict`` on one row spends most of its time in Python-side checks and buffer set-up; the C
API's ``LGBM_BoosterPredictForMatSingleRowFast`` reuses a prepared configuration. Each thread gets its own
configuration (LightGBM keeps the per-prediction buffers in it since 4.1), so concurrent calls neither
lock each other nor share buffers. If the entry points are missing or fail, callers fall back to
``Booster.predict``; tests hold both paths to the same numbers, bit for bit.

A predictor is made for one kind of output (LightGBM's ``predict_type``): the prediction
(``PREDICT_NORMAL``, a probability for binary models), the raw score (``PREDICT_RAW_SCORE``, log-odds) or
the TreeSHAP contributions (``PREDICT_CONTRIB``: one value per feature, then the base value, per class).
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Any

import numpy as np

__all__ = ["PREDICT_CONTRIB", "PREDICT_NORMAL", "PREDICT_RAW_SCORE", "SingleRowPredictor"]

#: LightGBM's C API prediction types (``C_API_PREDICT_*`` in ``c_api.h``).
PREDICT_NORMAL = 0
PREDICT_RAW_SCORE = 1
PREDICT_CONTRIB = 3
_PREDICT_TYPES = {PREDICT_NORMAL: "normal", PREDICT_RAW_SCORE: "raw score", PREDICT_CONTRIB: "contrib"}
_DTYPE_FLOAT64 = 1


def _free_all(lib: Any, handles: list[ctypes.c_void_p]) -> None:
    for h in handles:
        lib.LGBM_FastConfigFree(h)
    handles.clear()


class SingleRowPredictor:
    """Predict one row of a booster, reusing a per-thread fast configuration.

    Parameters
    ----------
    booster : lightgbm.Booster
        The booster; kept alive as long as the predictor.
    num_iteration : int
        Iterations to use (as ``Booster.predict(num_iteration=...)``).
    ncol : int
        Number of features of a row.
    predict_type : int, default PREDICT_NORMAL
        :data:`PREDICT_NORMAL`, :data:`PREDICT_RAW_SCORE` or :data:`PREDICT_CONTRIB`.

    Raises
    ------
    ValueError
        If ``predict_type`` is not one of the three supported types.
    lightgbm.basic.LightGBMError
        If LightGBM's fast single-row path cannot be set up for this booster (checked on construction).
    """

    def __init__(
        self, booster: Any, num_iteration: int, ncol: int, predict_type: int = PREDICT_NORMAL
    ) -> None:
        from lightgbm.basic import _LIB, _safe_call

        if predict_type not in _PREDICT_TYPES:
            raise ValueError(
                f"predict_type must be one of {sorted(_PREDICT_TYPES)} "
                f"({', '.join(_PREDICT_TYPES.values())}); got {predict_type!r}"
            )
        self._lib, self._safe_call = _LIB, _safe_call
        self._booster = booster  # keeps the booster (and its C handle) alive as long as we are
        self._num_iteration = int(num_iteration)
        self._ncol = int(ncol)
        self.predict_type = int(predict_type)
        n_out = ctypes.c_int64(0)
        _safe_call(
            _LIB.LGBM_BoosterCalcNumPredict(
                booster._handle,
                ctypes.c_int(1),
                ctypes.c_int(self.predict_type),
                ctypes.c_int(0),
                ctypes.c_int(self._num_iteration),
                ctypes.byref(n_out),
            )
        )
        #: Length of one row's output: 1 for a binary model's prediction or raw score, ``ncol + 1`` for its
        #: contributions (times the number of classes for a multiclass model).
        self.output_length = int(n_out.value)
        self._local = threading.local()
        self._handles: list[ctypes.c_void_p] = []
        self._lock = threading.Lock()
        self._fn = _LIB.LGBM_BoosterPredictForMatSingleRowFast
        weakref.finalize(self, _free_all, _LIB, self._handles)
        # fail now, not on the first record, if the C path is unusable
        self._run(np.zeros(self._ncol))
        written = self._local.state[-1].value
        if written != self.output_length:
            raise RuntimeError(
                f"LightGBM wrote {written} values for one row; LGBM_BoosterCalcNumPredict said "
                f"{self.output_length}"
            )

    def _thread_state(self) -> tuple[Any, ...]:
        """Return this thread's fast config, input buffer and pointer, output and pointer, length pointer and length."""
        state = getattr(self._local, "state", None)
        if state is None:
            handle = ctypes.c_void_p()
            self._safe_call(
                self._lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                    self._booster._handle,
                    ctypes.c_int(self.predict_type),
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
            out = (ctypes.c_double * self.output_length)()
            out_len = ctypes.c_int64(0)
            state = (
                handle,
                row,
                ctypes.cast(row, ctypes.c_void_p),
                out,
                ctypes.cast(out, ctypes.POINTER(ctypes.c_double)),
                ctypes.pointer(out_len),
                out_len,
            )
            self._local.state = state
        return state

    def _run(self, row: Any) -> Any:
        """Predict ``row`` into this thread's output buffer and return the buffer (a ctypes array)."""
        handle, buf, buf_p, out, out_p, len_p, _ = self._thread_state()
        buf[:] = row if isinstance(row, list) else np.asarray(row, dtype=np.float64).tolist()
        rc = self._fn(handle, buf_p, len_p, out_p)
        if rc != 0:
            self._safe_call(rc)  # raises LightGBMError with LightGBM's message
        return out

    def predict(self, row: Any) -> float:
        """Return the booster's prediction for one row of floats: the single output value.

        A probability for a binary model with ``PREDICT_NORMAL``, the log-odds with ``PREDICT_RAW_SCORE``.
        ``row`` is a sequence of ``ncol`` floats (a list is fastest) or a float64 array.

        Raises
        ------
        ValueError
            If the predictor gives more than one value per row (contributions, multiclass): use
            :meth:`predict_values`.
        """
        if self.output_length != 1:
            raise ValueError(
                f"this {_PREDICT_TYPES[self.predict_type]} predictor gives {self.output_length} values per "
                "row; use predict_values"
            )
        handle, buf, buf_p, out, out_p, len_p, _ = self._thread_state()  # _run inlined: the hot path
        buf[:] = row if isinstance(row, list) else np.asarray(row, dtype=np.float64).tolist()
        rc = self._fn(handle, buf_p, len_p, out_p)
        if rc != 0:
            self._safe_call(rc)  # raises LightGBMError with LightGBM's message
        return float(out[0])

    def predict_values(self, row: Any) -> list[float]:
        """Return all output values for one row as a list of ``output_length`` floats.

        For ``PREDICT_CONTRIB`` on a binary model: one contribution per feature, then the base value
        (``Booster.predict(X, pred_contrib=True)[0].tolist()``, bit for bit).
        """
        values: list[float] = self._run(row)[:]
        return values

    def predict_pair(self, other: SingleRowPredictor, row: list[float]) -> tuple[float, float]:
        """Return ``(self.predict(row), other.predict(row))``, filling the row buffer once for both.

        Both predictors must take rows of the same width and give one value per row (checked).
        """
        if self.output_length != 1 or other.output_length != 1 or self._ncol != other._ncol:
            raise ValueError("predict_pair needs two one-value predictors over rows of the same width")
        handle, buf, buf_p, out, out_p, len_p, _ = self._thread_state()
        handle2, _, _, out2, out2_p, len2_p, _ = other._thread_state()
        buf[:] = row
        rc = self._fn(handle, buf_p, len_p, out_p)
        if rc == 0:
            rc = self._fn(handle2, buf_p, len2_p, out2_p)  # LightGBM only reads the row
        if rc != 0:
            self._safe_call(rc)  # raises LightGBMError with LightGBM's message
        return float(out[0]), float(out2[0])
