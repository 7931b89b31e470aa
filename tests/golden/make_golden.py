"""Write the golden files of the model-file format and scoring contract (tests/api/test_contract.py).

DO NOT RE-RUN THIS SCRIPT CASUALLY. The golden files pin what a model file written by riskscore means:
``tests/api/test_contract.py`` loads the model written here with the *current* code and checks that it
still scores the stored records exactly as it did when the files were made. Regenerating them with the
current code would make that test pass whatever changed, so it would no longer protect anything.

Re-run it only deliberately, when the model file format version (``riskscore.artifact.FORMAT_VERSION``)
changes. The files are named after that version (``shipment_v<N>.*``) and this script refuses to
overwrite existing files, so a new format version adds ``shipment_v<N+1>.*`` next to the old files: KEEP
THE OLD GOLDEN FILES (and their test), since files of the old format must keep loading and scoring the
same way for as long as riskscore claims to read that format.

What it writes (all deterministic: 20,000 generated shipments, seed 41; ChannelModel(n_estimators=30),
one LightGBM thread, seed 0):

- ``shipment_v<N>.rsk``: the trained model, saved with ``RiskModel.save``;
- ``shipment_v<N>_inputs.parquet``: 200 records of the held-out later window of the same generated data
  set (declared columns only, the way records arrive for scoring);
- ``shipment_v<N>_expected.parquet``: ``model.predict`` of those records when the files were made.

Usage (from the repository root)::

    python tests/golden/make_golden.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from riskscore.artifact import FORMAT_VERSION
from riskscore.model import ChannelModel, RiskModel
from riskscore.spec import load_spec
from riskscore.synthetic import generate_shipments
from riskscore.training import train

HERE = Path(__file__).resolve().parent
ROWS = 20_000
DATA_SEED = 41
N_ESTIMATORS = 30
N_INPUTS = 200
SAMPLE_SEED = 41
MAX_TOTAL_BYTES = 3 * 2**20


def golden_paths(version: int = FORMAT_VERSION) -> dict[str, Path]:
    """The golden files of one model file format version."""
    stem = f"shipment_v{version}"
    return {
        "model": HERE / f"{stem}.rsk",
        "inputs": HERE / f"{stem}_inputs.parquet",
        "expected": HERE / f"{stem}_expected.parquet",
    }


def main() -> int:
    paths = golden_paths()
    existing = [p for p in paths.values() if p.exists()]
    if existing:
        print(
            f"refusing to overwrite the golden files {[p.name for p in existing]}: they pin format version "
            f"{FORMAT_VERSION}. Golden files are made once per format version and kept; read this script's "
            "docstring.",
            file=sys.stderr,
        )
        return 1

    data = generate_shipments(ROWS, seed=DATA_SEED)
    result = train(
        data, kind="shipment", estimator=ChannelModel(n_estimators=N_ESTIMATORS), num_threads=1, seed=0
    )
    model = result.model
    declared = load_spec("shipment").declared_columns
    later = result.test.sort_values("declared_at", kind="stable").reset_index(drop=True)
    rows = np.sort(np.random.default_rng(SAMPLE_SEED).choice(len(later), size=N_INPUTS, replace=False))
    inputs = later.loc[rows, declared].reset_index(drop=True)

    model.save(paths["model"])
    inputs.to_parquet(paths["inputs"], index=False)
    # score what was written, with the model as read back, so the files agree with each other exactly
    expected = RiskModel.from_file(paths["model"]).predict(pd.read_parquet(paths["inputs"]))
    expected.to_parquet(paths["expected"], index=False)

    total = sum(p.stat().st_size for p in paths.values())
    for p in paths.values():
        print(f"wrote {p} ({p.stat().st_size:,} bytes)")
    if total > MAX_TOTAL_BYTES:
        print(
            f"golden files total {total:,} bytes, over {MAX_TOTAL_BYTES:,}: make them smaller",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
