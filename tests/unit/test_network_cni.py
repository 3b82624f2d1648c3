"""The CNI client's side of the protocol: environment, stdin, chaining, capability args, errors.

The plugins here are small recording scripts, because what a client sends (its environment and stdin) is what
the spec fixes and a real plugin does not show it. The real plugins (bridge, portmap, ...) run in
tests/integration/test_network.py; VERSION runs against the installed ones below when they are present.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from simcon.errors import NetworkError
from simcon.network.cni import Attachment, Client, NetworkList

RECORDER = """#!/bin/sh
# Record this call, then answer like a plugin of type NAME.
dir=$(dirname "$0")
n=$(ls "$dir"/calls | wc -l)
env | grep '^CNI_' | sort > "$dir/calls/$n.$(basename "$0").$CNI_COMMAND.env"
cat > "$dir/calls/$n.$(basename "$0").$CNI_COMMAND.stdin"
case "$CNI_COMMAND" in
ADD) printf '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","sandbox":"%s"}],
"ips":[{"address":"10.9.0.%s/24","interface":0}],"from":"%s"}' "$CNI_NETNS" "$n" "$(basename "$0")" ;;
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}' ;;
esac
"""

FAILING = """#!/bin/sh
cat >/dev/null
echo '{"cniVersion":"1.0.0","code":11,"msg":"address pool exhausted","details":"range 10.9.0.0/30"}'
exit 1
"""


def _plugin(directory: Path, name: str, text: str) -> None:
    path = directory / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    (tmp_path / "calls").mkdir()
    for name in ("first", "second", "third"):
        _plugin(tmp_path, name, RECORDER)
    _plugin(tmp_path, "broken", FAILING)
    return tmp_path


def calls(directory: Path) -> list[tuple[str, str, dict, dict]]:
    """(plugin, command, env, stdin) in call order."""
    out = []
    files = sorted((directory / "calls").glob("*.env"), key=lambda p: int(p.name.split(".")[0]))
    for env_file in files:
        n, plugin, command, _ = env_file.name.split(".")
        env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        stdin = json.loads((directory / "calls" / f"{n}.{plugin}.{command}.stdin").read_text())
        out.append((plugin, command, env, stdin))
    return out


def netlist(*types: str, **extra: object) -> NetworkList:
    plugins = [{"type": t, **({"capabilities": {"portMappings": True}} if t == "second" else {})} for t in types]
    return NetworkList({"cniVersion": "1.0.0", "name": "testnet", "plugins": plugins, **extra})


def test_add_sets_the_spec_environment_and_chains_prev_result(plugins: Path) -> None:
    client = Client([str(plugins)])
    att = Attachment("ctr-1", "/run/x/netns", "eth0", args={"IP": "10.9.0.9"},
                     capability_args={"portMappings": [{"hostPort": 80, "containerPort": 8080, "protocol": "tcp"}],
                                      "mac": "02:00:00:00:00:09"})
    result = client.add(netlist("first", "second"), att)
    (p1, c1, env1, in1), (p2, c2, env2, in2) = calls(plugins)
    assert (p1, c1, p2, c2) == ("first", "ADD", "second", "ADD")
    assert env1 == {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "ctr-1", "CNI_NETNS": "/run/x/netns",
                    "CNI_IFNAME": "eth0", "CNI_ARGS": "IP=10.9.0.9", "CNI_PATH": str(plugins)}
    assert in1 == {"type": "first", "cniVersion": "1.0.0", "name": "testnet"}  # no prevResult, no runtimeConfig
    assert in2["prevResult"]["from"] == "first"
    # Only the capability the plugin declared, under runtimeConfig.
    assert in2["runtimeConfig"] == {"portMappings": [{"hostPort": 80, "containerPort": 8080, "protocol": "tcp"}]}
    assert result["from"] == "second"


def test_del_runs_in_reverse_with_the_cached_result_and_an_empty_netns_when_gone(plugins: Path) -> None:
    client = Client([str(plugins)])
    cached = {"cniVersion": "1.0.0", "ips": [{"address": "10.9.0.2/24"}]}
    failures = client.delete(netlist("first", "second", "third"), Attachment("ctr-2", ""), cached)
    assert failures == []
    seen = calls(plugins)
    assert [(p, c) for p, c, _, _ in seen] == [("third", "DEL"), ("second", "DEL"), ("first", "DEL")]
    assert all(stdin["prevResult"] == cached for _, _, _, stdin in seen)
    assert seen[0][2]["CNI_NETNS"] == ""


def test_del_calls_every_plugin_and_returns_each_failure(plugins: Path) -> None:
    client = Client([str(plugins)])
    failures = client.delete(netlist("first", "broken", "third"), Attachment("ctr-3", "/x"), None)
    assert [(p, c) for p, c, _, _ in calls(plugins)] == [("third", "DEL"), ("first", "DEL")]
    assert len(failures) == 1 and failures[0].plugin == "broken"


def test_plugin_error_names_network_plugin_and_message(plugins: Path) -> None:
    client = Client([str(plugins)])
    with pytest.raises(NetworkError) as info:
        client.add(netlist("first", "broken"), Attachment("ctr-4", "/x"))
    assert str(info.value) == ("network `testnet`: CNI plugin `broken`: ADD failed: address pool exhausted "
                               "(range 10.9.0.0/30)")
    assert "\n" not in str(info.value)


def test_missing_plugin_is_named_with_the_search_path(plugins: Path) -> None:
    client = Client([str(plugins), "/nonexistent"])
    with pytest.raises(NetworkError) as info:
        client.check_plugins(netlist("first", "nosuch"))
    assert f"CNI plugin `nosuch` of network `testnet` not found in {plugins}:/nonexistent" in str(info.value)
    assert calls(plugins) == []


def test_check_passes_the_cached_result_and_disable_check_skips(plugins: Path) -> None:
    client = Client([str(plugins)])
    client.check(netlist("first"), Attachment("c", "/x"), {"cniVersion": "1.0.0"})
    client.check(netlist("first", disableCheck=True), Attachment("c", "/x"), {"cniVersion": "1.0.0"})
    assert [(p, c, s.get("prevResult")) for p, c, _, s in calls(plugins)] == [("first", "CHECK", {"cniVersion": "1.0.0"})]


def test_gc_only_when_every_plugin_speaks_1_1(plugins: Path) -> None:
    client = Client([str(plugins)])
    assert not client.supports_gc(netlist("first"))  # a 1.0.0 list
    assert not client.supports_gc(NetworkList({"cniVersion": "1.1.0", "name": "n", "plugins": [{"type": "first"}]}))


@pytest.mark.parametrize("raw, problem", [
    ({"cniVersion": "1.0.0", "plugins": [{"type": "bridge"}]}, "name: a non-empty string is required"),
    ({"name": "n", "plugins": [{"type": "bridge"}]}, "cniVersion"),
    ({"name": "n", "cniVersion": "1.0.0", "plugins": []}, "plugins: a non-empty list is required"),
    ({"name": "n", "cniVersion": "1.0.0", "plugins": [{"bridge": "x"}]}, "plugins[0].type"),
    ({"name": "n", "cniVersion": "1.0.0", "plugins": [{"type": "../../bin/sh"}]}, "must be a name, not a path"),
])
def test_bad_lists_name_the_field(raw: dict, problem: str) -> None:
    with pytest.raises(NetworkError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        NetworkList(raw, "x.conflist")


def test_a_syntax_error_names_the_file(tmp_path: Path) -> None:
    file = tmp_path / "bad.conflist"
    file.write_text('{"name": "bad", "cniVersion": "1.0.0", "plugins": [}')
    with pytest.raises(NetworkError) as info:
        NetworkList.load(str(file))
    assert str(info.value).startswith(f"{file}: not valid JSON: ")


@pytest.mark.skipif(not os.access("/usr/lib/cni/bridge", os.X_OK), reason="containernetworking-plugins missing")
def test_version_of_a_real_plugin() -> None:
    assert "1.0.0" in Client(["/usr/lib/cni"]).version("bridge")


def test_add_reports_progress_after_each_plugin(plugins: Path) -> None:
    seen: list[str] = []
    Client([str(plugins)]).add(netlist("first", "second"), Attachment("c", "/x"), progress=lambda r: seen.append(r["from"]))
    assert seen == ["first", "second"]


def test_a_failed_add_carries_the_result_so_far(plugins: Path) -> None:
    with pytest.raises(NetworkError) as info:
        Client([str(plugins)]).add(netlist("first", "broken"), Attachment("c", "/x"))
    assert info.value.partial_result["from"] == "first"
