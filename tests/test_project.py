"""The project's promises: README's two set-up commands and CI running the same test command."""

from __future__ import annotations

import re
from pathlib import Path

import riskscore

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README.md must open with a bash block holding the two set-up commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_two_setup_commands():
    commands = _readme_commands()
    assert len(commands) == 2
    assert commands[0].endswith("riskscore demo")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def test_constraints_pin_every_runtime_dependency():
    pins = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    for dep in ("numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "lightgbm", "shap", "joblib", "tqdm"):
        assert dep in pins, f"constraints.txt does not pin {dep}"


def test_public_face_is_only_reexports():
    for name in riskscore.__all__:
        assert hasattr(riskscore, name), name
    assert re.fullmatch(r"\d+\.\d+\.\d+", riskscore.__version__)
