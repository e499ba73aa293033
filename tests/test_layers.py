"""The layers contract: imports follow the data flow (docs/ARCHITECTURE.md, "Layers").

gapviz's packages form layers in the order the data flows; a module may import its own layer and the ones
before it, never one after it (imports inside functions count too):

    base (errors, files, labels, instrument, stats, progress, data) → io → theory → mock → adapt → store → discover
    → repair → evaluate → workflow → cli

``gapviz.testing`` (fakes for tests and benchmarks) may import the library, but no library module imports it.
The apps (``apps/``) read the store and may re-synthesise with theory/io: they import base, io, theory, store
and repair (the line-list workbench: review decisions, species fits, the repair's population) only.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["base", "io", "theory", "mock", "adapt", "store", "discover", "repair", "evaluate", "workflow", "cli"]
BASE = {"gapviz", "gapviz.errors", "gapviz.files", "gapviz.labels", "gapviz.instrument", "gapviz.stats",
        "gapviz.data", "gapviz.progress", "gapviz.__main__"}
APPS_MAY_IMPORT = {"base", "io", "theory", "store", "repair"}


def layer_of(module: str) -> str | None:
    """The layer of a gapviz module name ("apps" for the apps, None for anything outside the project)."""
    if module == "apps" or module.startswith("apps."):
        return "apps"
    if module == "gapviz.testing" or module.startswith("gapviz.testing."):
        return "testing"
    if module == "gapviz.__main__":
        return "cli"
    parts = module.split(".")
    if parts[0] != "gapviz":
        return None
    if ".".join(parts[:2]) in BASE:
        return "base"
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def violation(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported`` (None when it may)."""
    src, dst = layer_of(importer), layer_of(imported)
    if dst is None or src is None:
        return None if dst is None else f"{importer} is not in any layer; add it to tests/test_layers.py"
    if src == "testing":
        return None if dst not in ("apps",) else f"{importer} (testing) imports the apps ({imported})"
    if dst == "testing":
        return f"{importer} imports the test fakes {imported}: only tests and benchmarks may"
    if src == "apps":
        return None if dst in APPS_MAY_IMPORT | {"apps"} else \
            f"{importer} (apps) imports {imported} ({dst}): apps read the store and may use base, io, theory, store, repair"
    if dst == "apps":
        return f"{importer} imports the apps ({imported}): science code never imports app code"
    if LAYERS.index(dst) > LAYERS.index(src):
        return f"{importer} ({src}) imports {imported} ({dst}), a later layer: imports run against the data flow"
    return None


def imports_of(path: Path, module: str) -> list[str]:
    """Every module ``path`` imports, anywhere in the file (relative imports resolved against ``module``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out.append(base)
            out += [f"{base}.{a.name}" for a in node.names]  # `from gapviz import adapt` imports gapviz.adapt
    return out


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> list[Path]:
    return sorted([*ROOT.joinpath("gapviz").rglob("*.py"), *ROOT.joinpath("apps").rglob("*.py")])


def violations(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        name = module_name(path)
        for imported in imports_of(path, name):
            why = violation(name, imported)
            if why:
                found.append(f"{path.relative_to(ROOT)}: {why}")
    return found


def test_every_project_module_is_in_a_layer():
    unplaced = [module_name(p) for p in project_modules() if layer_of(module_name(p)) is None]
    assert not unplaced, f"modules in no layer (add their package to LAYERS or BASE): {unplaced}"


def test_imports_follow_the_data_flow():
    assert violations(project_modules()) == []


@pytest.mark.parametrize(("importer", "imported", "allowed"), [
    ("gapviz.io.readers", "gapviz.errors", True),
    ("gapviz.theory.linemodel", "gapviz.io.linelist", True),
    ("gapviz.store.write", "gapviz.store.schema", True),
    ("gapviz.discover.find", "gapviz.adapt.theory_fit", True),
    ("gapviz.evaluate.store_score", "gapviz.mock.truth", True),
    ("gapviz.workflow.apply", "gapviz.store.write", True),
    ("gapviz.cli.find", "gapviz.workflow.find", True),
    ("apps.explorer", "gapviz.store", True),
    ("apps.explorer", "gapviz.theory.linemodel", True),
    ("gapviz.testing.toy", "gapviz.io.spectra", True),
    ("gapviz.io.readers", "gapviz.discover.rank", False),
    ("gapviz.mock.experiment", "gapviz.adapt.model", False),
    ("gapviz.store.write", "gapviz.discover.detect", False),
    ("gapviz.discover.find", "gapviz.workflow.find", False),
    ("gapviz.discover.attribute", "gapviz.testing.toy", False),
    ("gapviz.discover.detect", "apps.state", False),
    ("apps.explorer", "gapviz.adapt", False),
    ("apps.corrections", "gapviz.discover.attribute", False),
    ("apps.explorer", "gapviz.mock", False),
    ("gapviz.stats", "gapviz.io.grids", False),
])
def test_the_rule_case_by_case(importer, imported, allowed):
    assert (violation(importer, imported) is None) is allowed


def test_a_forbidden_import_inside_a_function_is_caught(tmp_path, monkeypatch):
    pkg = tmp_path / "gapviz" / "io"
    pkg.mkdir(parents=True)
    bad = pkg / "sneaky.py"
    bad.write_text("import numpy as np\n\n\ndef rank_them(t):\n    from ..discover.rank import rank\n\n"
                   "    return rank(t)\n")
    good = pkg / "fine.py"
    good.write_text("from gapviz.errors import GapvizError\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert imports_of(bad, "gapviz.io.sneaky") == ["numpy", "gapviz.discover.rank", "gapviz.discover.rank.rank"]
    found = violations([bad, good])
    assert len(found) == 2 and all("sneaky.py" in f and "discover" in f for f in found)
