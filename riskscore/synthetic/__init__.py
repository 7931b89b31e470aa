"""Synthetic customs records with planted smuggling mechanisms and full ground truth.

The generators are the project's test oracle: besides declared fields they emit the truth (``truth_*``),
the exact posterior probability of a violation given what the generator knows (``oracle_*``), and the
outcome of a legacy selection policy with label selection bias (``inspected``, ``observed_label``...).
"""

from __future__ import annotations

from riskscore.synthetic.generate import (
    World,
    generate,
    generate_passengers,
    generate_shipments,
    iter_records,
    write_records,
)
from riskscore.synthetic.scenario import Scenario, available_scenarios, load_scenario

__all__ = [
    "Scenario",
    "World",
    "available_scenarios",
    "generate",
    "generate_passengers",
    "generate_shipments",
    "iter_records",
    "load_scenario",
    "write_records",
]
