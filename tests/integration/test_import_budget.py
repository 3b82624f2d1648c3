"""The hot verbs import only what they need (STYLE.md, "Fast start-up is a feature"; issue 11).

Each verb runs for real, in a fresh interpreter, through the CLI's ``main``; the modules it has loaded are read
where the work is done: at exit for `state`, `start`, `kill`, `delete`, and at the fork for `create`, `run` and
`exec` (everything the children need is imported before fork, so that is the whole set). The fork is refused
there, so create undoes what it made. No timings: the sets are what is checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.simcon_only("SimCon's own import graph")

# Run the CLI in this interpreter, and write sys.modules to OUT at exit, or at the first fork (refused).
DRIVER = r"""
import atexit, os, sys
out = sys.argv[1]
def dump():
    with open(out, "w") as f:
        f.write("\n".join(sorted(sys.modules)))
def refused_fork():
    dump()
    atexit.unregister(dump)
    raise BlockingIOError(11, "fork refused by the import-budget test")
os.fork = refused_fork
atexit.register(dump)
from simcon.cli.main import main
sys.exit(main(sys.argv[2:]))
"""

# Never on any hot verb: modules that cost several ms each, or whole subsystems the verb has no use for.
NEVER = {"subprocess", "hashlib", "_hashlib", "logging", "argparse", "asyncio", "email", "http", "inspect",
         "dataclasses", "shutil", "tempfile", "pathlib", "threading", "ssl", "gettext", "locale", "tomllib",
         "urllib", "zipfile", "pickle"}
# Not on the verbs engines call per container operation (state, start, kill): the config model, ctypes, re and
# enum (signal's enums), the create-side code.
LIGHT_NEVER = NEVER | {"msgspec", "ctypes", "typing", "re", "enum", "json.decoder"}
# Not on create, run or exec either: msgspec (and the typing, decimal, uuid, platform... it pulls in) cost ~30 ms
# of every create (issue 11); the config is read with the _json scanner into simcon.records classes.
CREATE_NEVER = NEVER | {"msgspec", "typing"}
LIGHT_NEVER_PREFIXES = ("simcon.spec", "simcon.init", "simcon.runtime.create", "simcon.runtime.plan",
                        "simcon.cgroups")


def modules_of(rt, tmp_path, *args: str) -> set[str]:
    out = tmp_path / f"modules-{args[0]}"
    python = os.path.join(os.path.dirname(rt.command[0]), "python")
    proc = subprocess.run([python, "-c", DRIVER, str(out), "--root", str(rt.root), *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert out.exists(), f"{args}: exit {proc.returncode}: {proc.stderr}"
    return set(out.read_text().split())


def top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules} | modules


@pytest.mark.parametrize("verb", ["state", "kill", "start", "delete"])
def test_light_verbs(rt, tmp_path, verb: str) -> None:
    cid = rt.new_id("imp")
    bundle = rt.bundle(["sleep", "100"], cid)
    rt.ok("create", "--bundle", bundle.path, cid)
    args = {"state": ["state", cid], "kill": ["kill", cid, "KILL"], "start": ["start", cid],
            "delete": ["delete", "--force", cid]}[verb]
    loaded = modules_of(rt, tmp_path, *args)
    assert rt.status(cid) != "created" or verb == "state"  # the verb did its work
    heavy = sorted(top(loaded) & LIGHT_NEVER)
    if verb != "delete":  # delete removes the container's cgroups: it needs the cgroup drivers
        heavy += sorted(m for m in loaded if m.startswith(LIGHT_NEVER_PREFIXES))
    assert heavy == [], f"`{verb}` imports {heavy}"


@pytest.mark.parametrize("verb", ["create", "run"])
def test_create_and_run_import_a_bounded_set(rt, tmp_path, verb: str) -> None:
    cid = rt.new_id("imp")
    bundle = rt.bundle(["true"], cid)
    loaded = modules_of(rt, tmp_path, verb, "--bundle", str(bundle.path), cid)
    assert rt.root_entries() == []  # the refused fork undid the create
    heavy = sorted(top(loaded) & CREATE_NEVER)
    assert heavy == [], f"`{verb}` imports {heavy}"
    # The stdlib modules besides simcon's own: about 55 today (80 with msgspec); the bound keeps a new heavy
    # import from slipping in unnoticed.
    others = sorted(m for m in loaded if not m.startswith("simcon") and m not in sys.builtin_module_names)
    assert len(others) <= 65, f"`{verb}` imports {len(others)} non-simcon modules: {json.dumps(others)}"


def test_exec_imports_neither_msgspec_nor_typing(rt, tmp_path) -> None:
    cid = rt.new_id("imp")
    bundle = rt.bundle(["sleep", "100"], cid)
    rt.ok("run", "-d", "--bundle", bundle.path, cid)
    try:
        loaded = modules_of(rt, tmp_path, "exec", cid, "true")  # the refused fork ends it
        assert rt.status(cid) == "running"
    finally:
        rt.run("delete", "--force", cid)
    heavy = sorted(top(loaded) & CREATE_NEVER)
    assert heavy == [], f"`exec` imports {heavy}"
    assert "simcon.init.exec_init" in loaded  # it got as far as the fork
