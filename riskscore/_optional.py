"""One place that imports optional dependencies and says which extra to install when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from riskscore.exceptions import RiskscoreError

__all__ = ["MissingDependencyError", "require"]


class MissingDependencyError(RiskscoreError, ImportError):
    """An optional dependency of the feature in use is not installed."""


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise an error naming the pip extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs the package {module.split('.')[0]!r}, which is not installed; "
            f"install it with: pip install 'riskscore[{extra}]'"
        ) from exc
