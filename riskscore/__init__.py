"""riskscore: customs risk targeting.

Synthetic declarations and passengers with planted smuggling mechanisms, green/yellow/red channel models,
explanations and a stable predict API.
"""

from __future__ import annotations

from riskscore.exceptions import (
    ArtifactError,
    OutputError,
    ParameterError,
    RiskscoreError,
    ScenarioError,
    SchemaError,
    SpecError,
)

__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "OutputError",
    "ParameterError",
    "RiskscoreError",
    "ScenarioError",
    "SchemaError",
    "SpecError",
    "__version__",
]
