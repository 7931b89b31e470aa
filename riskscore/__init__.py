"""riskscore: customs risk targeting.

Synthetic declarations and passengers with planted smuggling mechanisms, green/yellow/red channel models
under inspection capacity, explanations and a stable predict API.

>>> import riskscore
>>> riskscore.__version__
'0.1.0'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

# Heavy names (LightGBM, scikit-learn) load on first use, so `import riskscore.synthetic` stays light.
_LAZY = {
    "load": "riskscore.model",
    "RiskModel": "riskscore.model",
    "ChannelModel": "riskscore.model",
    "OUTPUT_COLUMNS": "riskscore.model",
    "ChannelPolicy": "riskscore.policy",
    "Rule": "riskscore.policy",
    "train": "riskscore.training",
    "load_spec": "riskscore.spec",
    "validate_frame": "riskscore.validation",
    "RecordSpec": "riskscore.spec",
    "infer_spec": "riskscore.infer",
    "read_records": "riskscore._io",
    "monitor": "riskscore.monitoring",
    "MonitorReport": "riskscore.monitoring",
}

__all__ = [
    "OUTPUT_COLUMNS",
    "ArtifactError",
    "ChannelModel",
    "ChannelPolicy",
    "MonitorReport",
    "OutputError",
    "ParameterError",
    "RecordSpec",
    "RiskModel",
    "RiskscoreError",
    "Rule",
    "ScenarioError",
    "SchemaError",
    "SpecError",
    "__version__",
    "infer_spec",
    "load",
    "load_spec",
    "monitor",
    "read_records",
    "train",
    "validate_frame",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'riskscore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from riskscore._io import read_records
    from riskscore.infer import infer_spec
    from riskscore.model import OUTPUT_COLUMNS, ChannelModel, RiskModel, load
    from riskscore.monitoring import MonitorReport, monitor
    from riskscore.policy import ChannelPolicy, Rule
    from riskscore.spec import RecordSpec, load_spec
    from riskscore.training import train
    from riskscore.validation import validate_frame
