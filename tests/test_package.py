"""Guards on the package's shape: public surface, layering, module size, docs."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import loopml
from loopml.config.settings import Settings

SRC = Path(loopml.__file__).parent
ROOT = SRC.parent.parent
LAYERS = {
    "cli": 3,
    "sdk": 3,
    "server": 3,
    "serving": 3,
    "controller": 2,
    "pipelines": 2,
    "data": 1,
    "tracking": 1,
    "registry": 1,
    "monitoring": 1,
    "features": 1,
    "governance": 1,
    "samples": 1,
    "prediction_log": 1,
    "rollouts": 2,
    "deployments": 1,
    "batch": 1,
    "store": 0,
    "artifacts": 0,
    "config": 0,
}


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


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("loopml."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("loopml."):
                    found.add(alias.name.split(".")[1])
    return found


def test_imports_flow_downward() -> None:
    bad = []
    for path in SRC.rglob("*.py"):
        package = path.relative_to(SRC).parts[0].removesuffix(".py")
        if package not in LAYERS:
            continue
        for target in _imports(path):
            if target in LAYERS and target != package and LAYERS[target] > LAYERS[package]:
                bad.append(f"{path.relative_to(SRC)} imports loopml.{target}")
    assert not bad, "layering violated (imports must flow downward): " + "; ".join(bad)


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
