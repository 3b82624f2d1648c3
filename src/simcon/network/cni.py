"""A CNI client: runs the plugins of a network configuration list as the CNI specification (1.0, and 1.1's GC
when every plugin of the list speaks it) describes.

Why our own: PyPI has no maintained Python CNI client (checked: no package implements the execution protocol),
and the protocol is small. A plugin is an executable found by its ``type`` in the plugin directories; it gets its
parameters in the environment (``CNI_COMMAND``, ``CNI_CONTAINERID``, ``CNI_NETNS``, ``CNI_IFNAME``, ``CNI_ARGS``,
``CNI_PATH``) and its configuration as JSON on stdin, and answers with a result (or an error) as JSON on stdout.

For a list:
- ADD runs the plugins in order; plugin N gets plugin N-1's result as ``prevResult``; the last result is the
  attachment's result.
- DEL runs them in reverse order, each given the cached ADD result as ``prevResult`` (when there is one). A DEL
  must succeed when things are already gone, so it is safe to repeat after a crash.
- CHECK runs them in order with the cached result.
- ``runtimeConfig`` carries the capability arguments (portMappings, ips, mac, dns ...) only to the plugins whose
  ``capabilities`` ask for them.

Errors come back as ``NetworkError`` naming the network, the plugin and what the plugin said.
"""

from __future__ import annotations

import json
import os
import subprocess

from simcon.errors import NetworkError

DEFAULT_PLUGIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
SPEC_VERSION = "1.0.0"
PLUGIN_TIMEOUT = 60.0  # seconds a plugin may take; a hung plugin must not hang `create` or `delete` forever

# Capability arguments a runtime may pass (CNI conventions): runtimeConfig key -> meaning.
CAPABILITIES = ("portMappings", "ips", "mac", "dns", "aliases", "bandwidth", "ipRanges", "infinibandGUID",
                "deviceID", "cgroupPath")


class NetworkList:
    """A parsed network configuration list (a .conflist): the network's name, version and its plugins."""

    __slots__ = ("name", "cni_version", "plugins", "disable_check", "disable_gc", "file", "raw")

    def __init__(self, raw: dict, file: str = "") -> None:
        where = file or "network configuration"
        if not isinstance(raw, dict):
            raise NetworkError(f"{where}: expected a JSON object")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise NetworkError(f"{where}: name: a non-empty string is required")
        version = raw.get("cniVersion")
        if not isinstance(version, str) or not version:
            raise NetworkError(f"{where}: cniVersion: a version string is required", network=name)
        plugins = raw.get("plugins")
        if "plugins" not in raw and "type" in raw:
            plugins = [{k: v for k, v in raw.items() if k not in ("name", "cniVersion")}]  # a single .conf
        if not isinstance(plugins, list) or not plugins:
            raise NetworkError(f"{where}: plugins: a non-empty list is required", network=name)
        for i, plugin in enumerate(plugins):
            if not isinstance(plugin, dict) or not isinstance(plugin.get("type"), str) or not plugin["type"]:
                raise NetworkError(f"{where}: plugins[{i}].type: a plugin type (string) is required", network=name)
            if "/" in plugin["type"]:
                raise NetworkError(f"{where}: plugins[{i}].type: {plugin['type']!r} must be a name, not a path",
                                   network=name)
        self.name = name
        self.cni_version = version
        self.plugins: list[dict] = plugins
        self.disable_check = bool(raw.get("disableCheck"))
        self.disable_gc = bool(raw.get("disableGC"))
        self.file = file
        self.raw = raw

    @classmethod
    def load(cls, file: str) -> NetworkList:
        try:
            with open(file, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise NetworkError(f"{file}: {exc.strerror}") from None
        try:
            raw = json.loads(data)
        except ValueError as exc:
            raise NetworkError(f"{file}: not valid JSON: {exc}") from None
        return cls(raw, file)


class Attachment:
    """One container's attachment to one network: the runtime parameters of every plugin call."""

    __slots__ = ("container_id", "netns", "ifname", "args", "capability_args")

    def __init__(self, container_id: str, netns: str, ifname: str = "eth0", args: dict | None = None,
                 capability_args: dict | None = None) -> None:
        self.container_id = container_id
        self.netns = netns
        self.ifname = ifname
        self.args = dict(args or {})  # CNI_ARGS: K=V pairs, e.g. IP= for host-local's static request
        self.capability_args = dict(capability_args or {})

    def to_json(self) -> dict:
        return {"containerId": self.container_id, "netns": self.netns, "ifname": self.ifname, "args": self.args,
                "capabilityArgs": self.capability_args}

    @classmethod
    def from_json(cls, data: dict) -> Attachment:
        return cls(data["containerId"], data.get("netns", ""), data.get("ifname", "eth0"), data.get("args"),
                   data.get("capabilityArgs"))


class Client:
    """Runs plugins found in ``plugin_dirs`` (CNI_PATH)."""

    def __init__(self, plugin_dirs: list[str] | tuple[str, ...] = DEFAULT_PLUGIN_DIRS,
                 timeout: float = PLUGIN_TIMEOUT) -> None:
        self.plugin_dirs = list(plugin_dirs)
        self.timeout = timeout

    # ---- finding plugins

    def find_plugin(self, plugin_type: str, network: str = "") -> str:
        for directory in self.plugin_dirs:
            path = os.path.join(directory, plugin_type)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
        on = f" of network `{network}`" if network else ""
        raise NetworkError(f"CNI plugin `{plugin_type}`{on} not found in {':'.join(self.plugin_dirs)}",
                           network=network, plugin=plugin_type,
                           hint="install containernetworking-plugins, or set cni_plugin_dirs")

    def check_plugins(self, netlist: NetworkList) -> None:
        """Fail early, before anything is made, when a plugin of the list is missing."""
        for plugin in netlist.plugins:
            self.find_plugin(plugin["type"], netlist.name)

    # ---- the operations on a list

    def add(self, netlist: NetworkList, attachment: Attachment, progress=None) -> dict:  # noqa: ANN001
        """ADD every plugin in order, chaining prevResult; returns the final result. ``progress(result)`` is
        called after each plugin, so a caller can record how far ADD got before the next plugin runs."""
        result: dict | None = None
        for plugin in netlist.plugins:
            config = self.plugin_config(netlist, plugin, attachment, result)
            try:
                answer = self.exec_plugin("ADD", netlist.name, plugin["type"], config, attachment)
                if answer is None:
                    raise NetworkError(f"network `{netlist.name}`: CNI plugin `{plugin['type']}`: ADD returned no "
                                       "result", network=netlist.name, plugin=plugin["type"])
            except NetworkError as exc:
                # The result so far: the DEL that undoes this ADD needs it (the firewall plugin, for one, finds
                # its rules by the addresses in prevResult).
                exc.partial_result = result
                raise
            result = answer
            if progress is not None:
                progress(result)
        assert result is not None
        return result

    def delete(self, netlist: NetworkList, attachment: Attachment, cached: dict | None) -> list[NetworkError]:
        """DEL every plugin in reverse order with the cached result. Every plugin is called even when one fails
        (each releases its own resources); the failures are returned, not raised."""
        failures: list[NetworkError] = []
        for plugin in reversed(netlist.plugins):
            config = self.plugin_config(netlist, plugin, attachment, cached)
            try:
                self.exec_plugin("DEL", netlist.name, plugin["type"], config, attachment)
            except NetworkError as exc:
                failures.append(exc)
        return failures

    def check(self, netlist: NetworkList, attachment: Attachment, cached: dict) -> None:
        if netlist.disable_check:
            return
        for plugin in netlist.plugins:
            config = self.plugin_config(netlist, plugin, attachment, cached)
            self.exec_plugin("CHECK", netlist.name, plugin["type"], config, attachment)

    def version(self, plugin_type: str, network: str = "") -> list[str]:
        """The CNI versions a plugin supports (the VERSION command)."""
        answer = self.exec_plugin("VERSION", network, plugin_type, {"cniVersion": SPEC_VERSION}, None)
        versions = (answer or {}).get("supportedVersions")
        if not isinstance(versions, list):
            raise NetworkError(f"CNI plugin `{plugin_type}`: VERSION gave no supportedVersions", network=network,
                               plugin=plugin_type)
        return [str(v) for v in versions]

    def supports_gc(self, netlist: NetworkList) -> bool:
        """GC is CNI 1.1: only when the list says 1.1+ and every plugin supports 1.1.0."""
        if netlist.disable_gc or _version_tuple(netlist.cni_version) < (1, 1, 0):
            return False
        return all("1.1.0" in self.version(p["type"], netlist.name) for p in netlist.plugins)

    def gc(self, netlist: NetworkList, valid: list[Attachment]) -> None:
        """GC (CNI 1.1): the plugins release whatever belongs to attachments not in ``valid``."""
        attachments = [{"containerID": a.container_id, "ifname": a.ifname} for a in valid]
        for plugin in netlist.plugins:
            config = self.plugin_config(netlist, plugin, None, None)
            config["cni.dev/valid-attachments"] = attachments
            self.exec_plugin("GC", netlist.name, plugin["type"], config, None)

    # ---- one plugin call

    @staticmethod
    def plugin_config(netlist: NetworkList, plugin: dict, attachment: Attachment | None,
                      prev_result: dict | None) -> dict:
        """What a plugin of the list gets on stdin: its object, with the list's name and version, the previous
        result, and the capability arguments it declared (spec section 3)."""
        config = dict(plugin)
        config["cniVersion"] = netlist.cni_version
        config["name"] = netlist.name
        config.pop("runtimeConfig", None)
        if prev_result is not None:
            config["prevResult"] = prev_result
        else:
            config.pop("prevResult", None)
        wanted = plugin.get("capabilities")
        if attachment is not None and isinstance(wanted, dict):
            runtime_config = {k: v for k, v in attachment.capability_args.items() if wanted.get(k) is True}
            if runtime_config:
                config["runtimeConfig"] = runtime_config
        return config

    def environment(self, command: str, attachment: Attachment | None) -> dict[str, str]:
        """The CNI parameters, plus PATH (the plugins run iptables and friends)."""
        env = {"CNI_COMMAND": command, "CNI_PATH": ":".join(self.plugin_dirs),
               "PATH": os.environ.get("PATH") or "/usr/sbin:/usr/bin:/sbin:/bin"}
        if attachment is not None:
            env["CNI_CONTAINERID"] = attachment.container_id
            env["CNI_IFNAME"] = attachment.ifname
            # For DEL of a container whose namespace is gone, CNI_NETNS is empty: the plugins still release
            # addresses and rules, as the spec requires.
            env["CNI_NETNS"] = attachment.netns
            if attachment.args:
                env["CNI_ARGS"] = ";".join(f"{k}={v}" for k, v in attachment.args.items())
        return env

    def exec_plugin(self, command: str, network: str, plugin_type: str, config: dict,
                    attachment: Attachment | None) -> dict | None:
        path = self.find_plugin(plugin_type, network)
        on = f"network `{network}`: " if network else ""
        try:
            done = subprocess.run([path], input=json.dumps(config).encode(), capture_output=True,
                                  env=self.environment(command, attachment), timeout=self.timeout,
                                  close_fds=True)
        except subprocess.TimeoutExpired:
            raise NetworkError(f"{on}CNI plugin `{plugin_type}`: {command} did not finish within {self.timeout:g}s",
                               network=network, plugin=plugin_type) from None
        except OSError as exc:
            raise NetworkError(f"{on}CNI plugin `{plugin_type}`: cannot run {path}: {exc.strerror}",
                               network=network, plugin=plugin_type) from None
        answer = _decode(done.stdout)
        if done.returncode != 0:
            raise NetworkError(f"{on}CNI plugin `{plugin_type}`: {command} failed: "
                               f"{_error_text(answer, done.stderr, done.returncode)}",
                               network=network, plugin=plugin_type)
        if command in ("DEL", "CHECK", "GC"):
            return None
        if not isinstance(answer, dict):
            raise NetworkError(f"{on}CNI plugin `{plugin_type}`: {command}: unreadable answer "
                               f"{done.stdout[:200]!r}", network=network, plugin=plugin_type)
        return answer


def _decode(data: bytes) -> object:
    try:
        return json.loads(data) if data.strip() else None
    except ValueError:
        return None


def _error_text(answer: object, stderr: bytes, returncode: int) -> str:
    """A plugin error (spec section 6: code, msg, details) as one line."""
    if isinstance(answer, dict) and (answer.get("msg") or answer.get("code")):
        text = str(answer.get("msg") or f"error code {answer.get('code')}")
        if answer.get("details"):
            text += f" ({answer['details']})"
        return " ".join(text.split())
    said = stderr.decode(errors="replace").strip().splitlines()
    return said[-1] if said else f"exit status {returncode}"


def _version_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split("."))
    except ValueError:
        return (0,)
