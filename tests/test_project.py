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


# ------------------------------------------------------------------------------------ the module graph


def _imports_of(path: Path, module: str, modules: set[str]) -> set[str]:
    """riskscore modules that ``module`` imports, at any depth of its code except ``if TYPE_CHECKING:``."""
    import ast

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            if getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            for alias in node.names:
                target = resolve(alias.name)
                if target:
                    found.add(target)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            for alias in node.names:
                full = f"{name}.{alias.name}"
                target = full if full in modules else resolve(name)
                if target:
                    found.add(target)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(module)
    return found


def test_riskscore_has_no_import_circles():
    paths = {}
    for path in (ROOT / "riskscore").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    modules = set(paths)
    graph = {m: _imports_of(p, m, modules) for m, p in paths.items()}
    # a package's __init__ that re-exports lazily is not an edge back from its modules
    assert len(graph) > 40 and graph["riskscore.model"], "the import graph was not read"
    circles = []
    state: dict[str, int] = {}

    def walk(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_the_cycle_check_finds_a_planted_circle(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("from pkg.b import x\n", encoding="utf-8")
    b.write_text("def f():\n    from pkg.a import y\n", encoding="utf-8")
    modules = {"pkg.a", "pkg.b"}
    assert _imports_of(a, "pkg.a", modules) == {"pkg.b"}
    assert _imports_of(b, "pkg.b", modules) == {"pkg.a"}  # a function-level import counts
    c = tmp_path / "c.py"
    c.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import y\n", encoding="utf-8"
    )
    assert _imports_of(c, "pkg.c", modules | {"pkg.c"}) == set()
