"""The import direction of STYLE.md, checked on the source with ast (lazy imports inside functions count too):

    cli -> runtime -> {init, cgroups, network, monitor} -> linux;   spec, errors, log at the bottom

and no import cycle between modules, inside a part either (a cycle hidden in a lazy import still ties the modules
into one). A failure here is a layering bug in src/, not a reason to widen the table.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "simcon"
ROOT = "simcon"  # the package root itself (simcon/__init__.py: version constants only)

# top-level part of simcon -> the top-level parts it may import (itself always included)
ALLOWED: dict[str, set[str]] = {
    "__main__": {"cli"},
    "cli": {"api", "runtime", "spec", "settings", "errors", "log", "version"},
    # the Python library (simcon.Runtime): what the CLI's verbs call
    "api": {"runtime", "errors", "version"},
    "runtime": {"init", "cgroups", "network", "monitor", "linux", "spec", "errors", "log", "version"},
    "init": {"linux", "errors", "log"},
    "cgroups": {"linux", "errors", "log"},
    "network": {"linux", "spec", "errors", "log", "version"},
    "monitor": {"linux", "spec", "errors", "log", "version"},
    "linux": set(),
    "spec": {"errors", "version"},
    "log": {"errors"},
    "settings": {"errors"},  # simcon.toml and SIMCON_* variables: read by the CLI, passed down as plain values
    "errors": set(),
    "fastjson": set(),
    "records": {"errors"},  # the typed records of the config models and the plans
    "version": set(),
    "faults": set(),
    "interrupts": set(),
    # `import simcon` re-exports the versions, and simcon.Runtime lazily from the api (so nothing below may
    # import the root package: that would be a cycle through the api)
    ROOT: {"version", "api"},
}
# Bottom-layer utilities any part may use.
for _allowed in ALLOWED.values():
    _allowed.update(("fastjson", "faults", "interrupts", "records"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py"}


def top_part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def simcon_imports(module: str) -> list[tuple[int, str]]:
    """(line, imported simcon module) for every import statement in ``module``, wherever it sits."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if module in PACKAGES else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "simcon"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != "simcon":
                continue
            for alias in node.names:
                # `from simcon import log` imports the module simcon.log; `from simcon import OCI_VERSION` the root.
                candidate = f"{base}.{alias.name}"
                found.append((node.lineno, candidate if candidate in MODULES else base))
    return found


def rel(module: str) -> str:
    return str(MODULES[module].relative_to(SRC.parent))


def test_modules_were_found() -> None:
    for expected in ("simcon.cli.main", "simcon.runtime.state", "simcon.init.sync", "simcon.linux.procfs",
                     "simcon.spec.load", "simcon.errors", "simcon.log", "simcon.__main__", "simcon"):
        assert expected in MODULES


def test_every_top_level_part_has_a_rule() -> None:
    unknown = {top_part(m) for m in MODULES} - set(ALLOWED)
    assert not unknown, f"new top-level parts without a layering rule in this test: {sorted(unknown)}"


def test_import_resolution_sees_lazy_and_from_imports() -> None:
    """Sanity check of the checker itself on code whose imports are known."""
    cli_main = {target for _, target in simcon_imports("simcon.cli.main")}
    assert {"simcon.log", "simcon.version", "simcon.errors", "simcon.runtime.state"} <= cli_main
    operations = {target for _, target in simcon_imports("simcon.runtime.operations")}
    assert "simcon.cgroups" in operations  # imported inside a function


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_downward(module: str) -> None:
    own = top_part(module)
    allowed = ALLOWED[own] | {own}
    violations = [f"{rel(module)}:{line}: imports {target} ({own} may import only {sorted(allowed)})"
                  for line, target in simcon_imports(module) if top_part(target) not in allowed]
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_only_cli_and_main_import_cli(module: str) -> None:
    if top_part(module) in ("cli", "__main__"):
        return
    bad = [f"{rel(module)}:{line}: imports {target}" for line, target in simcon_imports(module)
           if top_part(target) == "cli"]
    assert not bad, "\n".join(bad)


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_cycle_finder_finds_a_cycle_through_three_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    graph = {module: {target for _, target in simcon_imports(module) if target in MODULES and target != module}
             for module in MODULES}
    cycles = import_cycles(graph)
    shown = []
    for cycle in cycles:
        members = set(cycle)
        edges = [f"  {rel(m)}:{line}: imports {target}" for m in cycle for line, target in simcon_imports(m)
                 if target in members and target != m]
        shown.append(" <-> ".join(cycle) + "\n" + "\n".join(edges))
    assert not cycles, "import cycles:\n" + "\n".join(shown)


def test_linux_imports_nothing_but_linux() -> None:
    bad = [f"{rel(m)}:{line}: {target}" for m in MODULES if top_part(m) == "linux"
           for line, target in simcon_imports(m) if not (target == "simcon.linux" or target.startswith("simcon.linux."))]
    assert not bad, "\n".join(bad)


def test_package_root_imports_only_the_versions_and_lazily_the_api() -> None:
    assert sorted({target for _, target in simcon_imports(ROOT)}) == ["simcon.api", "simcon.version"]
    code = "import sys, simcon; print(' '.join(sorted(m for m in sys.modules if m.startswith('simcon'))))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": str(SRC)})
    assert result.stdout.split() == ["simcon", "simcon.version"]


def test_hot_commands_stay_light() -> None:
    """`state`, `start`, `kill`, `delete` and `list` start with the CLI and the operations module: none of the
    config model, msgspec, ctypes, cgroups or init code may be imported at that point (STYLE: fast start-up)."""
    code = (
        "import sys\n"
        "from simcon.cli.main import build_parser\n"
        "build_parser()\n"
        "import simcon.runtime.operations, simcon.runtime.state, simcon.runtime.status\n"
        "heavy = sorted(m for m in sys.modules if m in ('msgspec', 'ctypes') or m.startswith(\n"
        "    ('simcon.spec', 'simcon.cgroups', 'simcon.init', 'simcon.runtime.create', 'simcon.runtime.plan')))\n"
        "print(' '.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": str(SRC)})
    assert result.stdout.strip() == ""
