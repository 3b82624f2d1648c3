"""Property tests (hypothesis) over hostile config.json and state.json, in-process (issue 10, fuzzing).

Properties: never an exception other than SimCon's own errors (so never a traceback), every error one line that
names the file (and the JSON path where there is one), and no huge echo of the input; a sample of damaged state
records also goes through `simcon state` and `simcon list`. The real runs of accepted configs are in
tests/integration/test_fuzz_create.py. `make fuzz` runs many more examples (docs/security.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("hypothesis", reason="a test dependency: `make setup` installs it")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import hostile  # noqa: E402
import mkbundle  # noqa: E402
from simcon.errors import ConfigError, SimconError  # noqa: E402
from simcon.runtime import status as status_mod  # noqa: E402
from simcon.runtime.state import STATE_FILE, ContainerState, StateStore, salvage_state  # noqa: E402
from simcon.spec.load import load_config  # noqa: E402

MAX_ERROR = 2500  # characters: errors shorten the values they quote
BASE_CONFIG = mkbundle.default_config(["sh", "-c", "echo fuzz"], "/simcon-fuzz/unit")
BASE_CONFIG["process"]["capabilities"] = {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                                          "permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"]}
BASE_CONFIG["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
BASE_CONFIG["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 50}}
BASE_CONFIG["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
BASE_CONFIG["hooks"] = {"poststop": [{"path": "/bin/true", "args": ["true"], "env": ["A=1"]}]}
BASE_CONFIG["annotations"] = {"org.example": "x"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("fuzz-bundle")
    (path / "rootfs").mkdir()
    return str(path)


def _check_error(error: SimconError, file: str) -> None:
    text = str(error)
    assert "\n" not in text, text
    assert len(text) <= MAX_ERROR, text[:300]
    if isinstance(error, ConfigError):
        assert error.file == file
        assert text.startswith(f"{file}: ")


def _load_and_plan(bundle: str, data: bytes) -> None:
    """Load, validate and build the launch plan (all of create before fork): accepted, or one-line errors."""
    from simcon.runtime.plan import build_plan

    file = os.path.join(bundle, "config.json")
    with open(file, "wb") as f:
        f.write(data)
    try:
        spec = load_config(bundle)
    except ConfigError as error:
        _check_error(error, file)
        return
    try:
        build_plan(spec, bundle, "fuzz", config_file=file)
    except SimconError as error:
        _check_error(error, file)


def test_the_base_config_is_accepted(bundle: str) -> None:
    from simcon.runtime.plan import build_plan

    file = os.path.join(bundle, "config.json")
    with open(file, "wb") as f:
        f.write(hostile.encode(BASE_CONFIG))
    build_plan(load_config(bundle), bundle, "fuzz", config_file=file)


@given(hostile.mutated_bytes(BASE_CONFIG))
def test_mutated_config(bundle: str, data: bytes) -> None:
    _load_and_plan(bundle, data)


@given(hostile.mutated_bytes(BASE_CONFIG, max_mutations=1, allowed=("process", "linux.resources", "mounts")))
def test_mutated_process_resources_and_mounts(bundle: str, data: bytes) -> None:
    _load_and_plan(bundle, data)


@given(hostile.raw_documents(BASE_CONFIG))
def test_raw_config_bytes(bundle: str, data: bytes) -> None:
    _load_and_plan(bundle, data)


@given(hostile.text)
def test_any_string_anywhere_names_its_path_when_it_holds_a_nul(bundle: str, value: str) -> None:
    config = json.loads(json.dumps(BASE_CONFIG))
    config["mounts"][0]["options"] = ["nosuid", value]
    file = os.path.join(bundle, "config.json")
    with open(file, "wb") as f:
        f.write(hostile.encode(config))
    try:
        load_config(bundle)
    except ConfigError as error:
        _check_error(error, file)
        if "\x00" in value:
            assert error.json_path == "mounts[0].options[1]" and "NUL" in error.problem
    else:
        assert "\x00" not in value


# --- state.json ------------------------------------------------------------------------------------------------

BASE_STATE = ContainerState(
    oci_version="1.2.0", id="fuzz", pid=0, status="stopped", bundle="/b", rootfs="/b/rootfs",
    created="2024-01-01T00:00:00.000000000Z", annotations={"a": "b"}, creator_pid=0,
    cgroup={"version": 1, "mode": "hybrid", "cgroups": [], "created": []},
    poststop_hooks=[{"path": "/bin/true", "args": [], "env": [], "timeout": None}], exit_status=0,
    finished="2024-01-01T00:00:01.000000000Z", process={"args": ["sh"]},
).to_json()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> StateStore:
    root = tmp_path_factory.mktemp("fuzz-root")
    StateStore(str(root)).create_dir("fuzz").release()
    return StateStore(str(root))


def _read_state(store: StateStore, data: bytes) -> None:
    file = os.path.join(store.container_dir("fuzz"), STATE_FILE)
    with open(file, "wb") as f:
        f.write(data)
    salvaged = salvage_state(file, "fuzz")  # never raises, and never keeps a pid without its start time
    assert salvaged.id == "fuzz" and (salvaged.pid == 0 or salvaged.init_start_time is not None)
    try:
        state = store.read_unlocked("fuzz")
    except SimconError as error:
        _check_error(error, file)
        assert file in str(error)
        return
    # What `state` and `list` do with an accepted record must not fail either.
    status = status_mod.derive_status(state, store.container_dir("fuzz"))
    json.dumps(state.oci_view(status))


@given(hostile.mutated_bytes(BASE_STATE))
def test_mutated_state(store: StateStore, data: bytes) -> None:
    _read_state(store, data)


@given(hostile.raw_documents(BASE_STATE) | st.binary(max_size=64))
def test_raw_state_bytes(store: StateStore, data: bytes) -> None:
    _read_state(store, data)


# --- a sample through the real CLI (a process per example: fewer of them) ----------------------------------------

CLI_EXAMPLES = max(5, settings.default.max_examples // 10)
SIMCON = str(Path(sys.executable).parent / "simcon")


@settings(max_examples=CLI_EXAMPLES)
@given(hostile.mutated_bytes(BASE_STATE) | hostile.raw_documents(BASE_STATE))
def test_state_and_list_of_a_damaged_record_through_the_cli(store: StateStore, data: bytes) -> None:
    with open(os.path.join(store.container_dir("fuzz"), STATE_FILE), "wb") as f:
        f.write(data)
    for argv in (["state", "fuzz"], ["list", "--format", "json"]):
        proc = subprocess.run([SIMCON, "--root", store.root, *argv], capture_output=True, text=True, timeout=60)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode in (0, 1), proc
        assert len(proc.stderr.splitlines()) <= 1, proc.stderr
        if argv[0] == "list":
            assert proc.returncode == 0, proc.stderr  # a broken record never fails the listing
            json.loads(proc.stdout)
