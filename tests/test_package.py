"""Guards on the package's shape: public surface, layering, module size, docs."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import loopml
from loopml.config.settings import Settings
from loopml.layers import LAYERS, PLACEMENT, rank

SRC = Path(loopml.__file__).parent
ROOT = SRC.parent.parent


def test_all_matches_namespace() -> None:
    public = {n for n in dir(loopml) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(loopml, n)).__name__ == "module"}
    assert set(loopml.__all__) == public - modules
    assert len(loopml.__all__) == len(set(loopml.__all__))
    for name in loopml.__all__:
        assert getattr(loopml, name) is not None


def test_importing_the_artifact_store_stays_light() -> None:
    code = (
        "import sys, loopml.artifacts; "
        "heavy = {'pandas', 'pyarrow', 'duckdb', 'sqlalchemy', 'sklearn'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def _unit(path: Path) -> str:
    """The package (or root module) a source file belongs to: what the layer map places."""
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every `loopml` module a file imports (absolute, `import loopml.x`, relative), by line;
    `from loopml import x` and `from . import x` yield `loopml.x`."""
    tree = ast.parse(path.read_text())
    package = ["loopml", *path.relative_to(SRC).parts[:-1]]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
    return [(line, m) for line, m in found if m == "loopml" or m.startswith("loopml.")]


def _package_graph() -> tuple[dict[str, set[str]], list[str]]:
    """Edges between placed units (`unit -> units it imports`), and the imports of the
    `loopml` namespace itself from inside the package."""
    edges: dict[str, set[str]] = {}
    namespace = []
    for path in sorted(SRC.rglob("*.py")):
        unit = _unit(path)
        for line, module in _imported_modules(path):
            if module == "loopml":
                if path != SRC / "__init__.py":
                    namespace.append(f"{path.relative_to(SRC)}:{line}")
                continue
            target = module.split(".")[1]
            if target != unit:
                edges.setdefault(unit, set()).add(target)
    return edges, namespace


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_package_and_root_module_is_placed_in_a_layer() -> None:
    units = {_unit(p) for p in SRC.rglob("*.py")}
    missing = sorted(units - set(PLACEMENT))
    assert not missing, f"place {missing} in a layer: add them to PLACEMENT in loopml/layers.py"
    stale = sorted(set(PLACEMENT) - units)
    assert not stale, f"loopml/layers.py places {stale}, which do not exist: remove them"
    assert set(PLACEMENT.values()) <= set(LAYERS)


def test_imports_flow_downward() -> None:
    edges, _ = _package_graph()
    bad = [
        f"loopml.{unit} ({PLACEMENT[unit]}) imports loopml.{target} ({PLACEMENT[target]})"
        for unit, targets in sorted(edges.items())
        for target in sorted(targets)
        if target in PLACEMENT and unit in PLACEMENT and rank(target) > rank(unit)
    ]
    assert not bad, "layering violated (imports must flow downward): " + "; ".join(bad)


def test_no_import_of_the_loopml_namespace_inside_the_package() -> None:
    _, namespace = _package_graph()
    assert not namespace, (
        "`import loopml` / `from loopml import` inside the package (use the full module "
        "path, e.g. `from loopml.errors import ...`): " + ", ".join(namespace)
    )


def test_no_cycles_between_packages() -> None:
    edges, _ = _package_graph()
    cycles = _cycles(edges)
    assert not cycles, "packages import each other (directly or through others): " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_the_architecture_page_shows_the_layer_map() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    shown: dict[str, set[str]] = {}
    for row in re.findall(r"^\| \*\*(\w+)\*\* \|([^|]*)\|", text, re.M):
        shown[row[0]] = set(re.findall(r"`([\w.]+)`", row[1]))
    expected = {layer: {u for u, lay in PLACEMENT.items() if lay == layer} for layer in LAYERS}
    assert shown == expected, (
        f"docs/architecture.md's layer table differs from loopml/layers.py: {shown}"
    )


def test_modules_stay_small() -> None:
    large = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 800
    }
    assert not large, f"split these modules (over 800 lines): {large}"


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [
        name
        for name in Settings.model_fields
        if name != "root" and (f"`{name}`" not in text or f"`LOOPML_{name.upper()}`" not in text)
    ]
    assert not missing, f"docs/configuration.md does not document {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]
