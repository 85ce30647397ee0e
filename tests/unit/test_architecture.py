"""The layers' boundaries (ARCHITECTURE §2a), checked on the source and on what an import
really pulls in: the doors import the application layer and the workflows' contracts,
never the worker's implementation (activities, peers, persistence, Beanie); the
application layer imports no adapter; the write side knows nothing of the read side."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What each layer must never import, by the top-level name (or dotted prefix) imported.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "api": ("activities", "adapters", "peers", "persistence", "projections", "beanie",
            "workflows.booking", "workflows.cancellation", "workflows.reschedule"),
    "application": ("api", "adapters", "activities", "peers", "persistence", "projections",
                    "messaging", "beanie", "pymongo", "temporalio", "fastapi", "strawberry"),
    "domain": ("api", "application", "adapters", "activities", "workflows", "peers",
               "persistence", "projections", "messaging", "beanie", "pymongo", "temporalio",
               "fastapi", "pydantic"),
    "persistence": ("projections", "api", "adapters", "workflows"),
    "workflows/contracts": ("activities", "peers", "persistence", "beanie", "api", "adapters"),
}  # fmt: skip


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def breaks(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_module_of_a_layer_imports_what_it_must_not(layer: str) -> None:
    found = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / layer).rglob("*.py"))
        for name in imported_names(path)
        if breaks(name, FORBIDDEN[layer])
    }
    assert not found, sorted(found)


def modules_loaded_by(modules: list[str]) -> set[str]:
    """What importing ``modules`` loads, in a fresh interpreter (this one has everything)."""
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


def dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def test_importing_the_api_loads_no_worker_code() -> None:
    every_api_module = [dotted(p) for p in sorted((ROOT / "api").rglob("*.py"))]
    loaded = modules_loaded_by(every_api_module)
    worker_code = ("activities", "peers", "persistence", "beanie", "projections")
    assert not {m for m in loaded if breaks(m, worker_code)}
    # The workflows' contracts, yes; their implementations, no.
    implementations = {m for m in loaded if m.startswith("workflows.")} - {
        m for m in loaded if m.startswith(("workflows.contracts", "workflows.search_attributes"))
    }
    assert not implementations


def test_importing_the_application_layer_loads_no_adapter() -> None:
    modules = [dotted(p) for p in sorted((ROOT / "application").rglob("*.py"))]
    loaded = modules_loaded_by(modules)
    assert not {m for m in loaded if breaks(m, ("adapters", "peers", "persistence", "beanie"))}
