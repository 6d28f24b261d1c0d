"""The folders are the architecture: the core is pure and imports nothing else of the package; doors and
adapters import the core, and the core never imports them. A test per rule, over every module."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "estimator"

#: What each folder may import of the package (itself always). The core: nothing but itself.
MAY_IMPORT = {
    "core": set(),
    "batch": {"core"},
    "cli": {"core", "batch", "importers", "records", "eligibility"},
    "web": {"core", "batch", "records", "eligibility"},
    "importers": {"core"},
    "eligibility": {"core"},
    "records": {"core", "eligibility"},
}
#: Third-party packages the core may import; everything else it imports must be the standard library.
CORE_THIRD_PARTY = {"numpy", "pandas"}


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def package_imports(path):
    """(folder imported, line) for each import of another part of the package, and the top-level names
    of every other import."""
    tree = ast.parse(path.read_text(), str(path))
    own = path.relative_to(PACKAGE).parts[:-1]
    inner, outer = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "estimator":
                    inner.append((parts[1] if len(parts) > 1 else "", node.lineno))
                else:
                    outer.append(parts[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == "estimator":
                    names = parts[1:] or [a.name for a in node.names]
                    inner.append((names[0], node.lineno))
                else:
                    outer.append(parts[0])
                continue
            base = list(own[: len(own) - (node.level - 1)])
            target = base + (node.module.split(".") if node.module else [])
            if target:
                inner.append((target[0], node.lineno))
            else:  # ``from .. import x``: the package's top level, or its folders by name
                inner.extend((alias.name, node.lineno) for alias in node.names)
    return inner, outer


def test_every_module_lives_in_a_folder_with_a_rule():
    folders = {p.relative_to(PACKAGE).parts[0] for p in modules()}
    assert folders == set(MAY_IMPORT)
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py", "__main__.py"]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_folder_rules(path):
    folder = path.relative_to(PACKAGE).parts[0]
    inner, outer = package_imports(path)
    allowed = MAY_IMPORT[folder] | {folder, "__version__"}
    wrong = [(target, line) for target, line in inner if target not in allowed]
    assert not wrong, f"{path.relative_to(PACKAGE)} imports {wrong}; {folder}/ may import {sorted(allowed)}"
    if folder == "core":
        third_party = {name for name in outer if name not in sys.stdlib_module_names}
        assert third_party <= CORE_THIRD_PARTY, third_party


def test_the_rule_checker_catches_a_core_module_importing_a_door(tmp_path, monkeypatch):
    fake = tmp_path / "estimator"
    (fake / "core").mkdir(parents=True)
    bad = fake / "core" / "bad.py"
    bad.write_text("from ..web.app import create_app\nimport flask\nfrom . import engine\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    inner, outer = package_imports(bad)
    assert inner == [("web", 1), ("core", 3)] and outer == ["flask"]
    with pytest.raises(AssertionError, match="imports"):
        test_imports_follow_the_folder_rules(bad)


def test_importing_the_whole_core_loads_no_web_framework_or_database():
    names = sorted(f"estimator.core.{p.stem}" for p in (PACKAGE / "core").glob("*.py") if p.stem != "__init__")
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in names)
        + "bad = [m for m in ('flask', 'marshmallow', 'werkzeug', 'flask_smorest', 'sqlalchemy', 'gunicorn',"
        " 'dask', 'distributed', 'pyarrow.parquet') if m in sys.modules]\n" + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_engine_has_no_row_loops():
    import inspect

    import estimator.core.encounters
    import estimator.core.engine
    import estimator.core.pricing

    for module in (estimator.core.engine, estimator.core.pricing, estimator.core.encounters):
        source = inspect.getsource(module)
        for loop in ("iterrows", "itertuples", ".apply(", "np.vectorize"):
            assert loop not in source, loop


def test_the_readmes_folder_map_matches_the_tree():
    import re

    readme = (PACKAGE.parent / "README.md").read_text()
    block = re.search(r"## Layout\n\n```\n(.*?)```", readme, re.S).group(1)
    listed = set(re.findall(r"^  ([a-z_]+)/ ", block, re.M))
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert listed == folders == set(MAY_IMPORT)
