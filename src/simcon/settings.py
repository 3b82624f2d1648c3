"""SimCon's own settings: config files, environment variables and command-line flags, layered.

Precedence, lowest first (later sources override earlier ones, key by key):

1. built-in defaults (``SETTINGS`` below),
2. ``/etc/simcon/simcon.toml``,
3. ``$XDG_CONFIG_HOME/simcon/simcon.toml`` (default ``~/.config``), for a non-root user only,
4. the file named by ``$SIMCON_CONFIG``,
5. environment variables ``SIMCON_<KEY>`` (``SIMCON_ROOT``, ``SIMCON_LOG_FORMAT``, ...),
6. command-line flags (applied by ``simcon.cli.main``).

Engines keep runc's meaning. podman and containerd always pass ``--pid-file`` to ``create``/``run``; such a
call is an engine's, and the *container defaults* (``ENGINE_NEUTRAL`` is False: default seccomp profile,
network, log driver, ``--init``) are not applied to it: a global file must not change what an engine asked
for. ``cgroup_manager`` likewise applies only to containers whose config.json names no cgroupsPath (engines
always name one; with one, only ``--systemd-cgroup`` decides, as in runc).

Cost: ``simcon state`` and ``kill`` pay one ``stat`` per file location and a scan of the environment; only
when a file exists is ``tomllib`` imported (about 3 ms warm) and the file parsed.

This module is the only reader of these files; the rest of SimCon receives plain values.
"""

from __future__ import annotations

import os

from simcon.errors import SimconError

SYSTEM_FILE = "/etc/simcon/simcon.toml"
CONFIG_ENV = "SIMCON_CONFIG"
ENV_PREFIX = "SIMCON_"


class SettingsError(SimconError):
    """A config file or environment variable is invalid; names the file, line and key."""

    def __init__(self, where: str, key: str, problem: str) -> None:
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")
        self.where = where
        self.key = key
        self.problem = problem


class Setting:
    """One key: its type, default, what it means, and whether engines' calls are exempt from it."""

    __slots__ = ("key", "kind", "default", "choices", "help", "engine_neutral")

    def __init__(self, key: str, kind: str, default: object, help: str, *, choices: tuple[str, ...] = (),
                 engine_neutral: bool = True) -> None:
        self.key = key
        self.kind = kind  # "str", "bool", "number", "list", "table"
        self.default = default
        self.choices = choices
        self.help = help
        self.engine_neutral = engine_neutral

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("root", "str", None, "state directory (runc's --root); default /run/simcon, or "
            "$XDG_RUNTIME_DIR/simcon for a non-root user"),
    Setting("log", "str", None, "file for the runtime's own log (runc's --log)"),
    Setting("log_format", "str", "text", "format of the runtime's log (runc's --log-format)",
            choices=("text", "json")),
    Setting("log_level", "str", "warning", "least severe runtime messages written; debug is --debug",
            choices=("error", "warning", "info", "debug")),
    Setting("rootless", "str", "auto", "rootless mode (runc's --rootless)", choices=("true", "false", "auto")),
    Setting("cgroup_manager", "str", "cgroupfs", "cgroup driver for containers whose config.json names no "
            "cgroupsPath (--systemd-cgroup always selects systemd)", choices=("cgroupfs", "systemd")),
    Setting("start_timeout", "number", 120.0, "seconds create waits for each step of the container's setup "
            "(annotation run.oci.simcon.start-timeout overrides it)"),
    Setting("seccomp_profile", "str", None, "seccomp profile applied by create/run instead of the config's "
            "(a file, or 'unconfined'); as --seccomp-profile", engine_neutral=False),
    Setting("init", "bool", False, "run a tiny init as PID 1 in every container; as --init",
            engine_neutral=False),
    Setting("log_driver", "str", None, "container log driver for create/run; as --log-driver",
            engine_neutral=False),
    Setting("log_opts", "table", {}, "container log driver options (KEY = VALUE); as --log-opt",
            engine_neutral=False),
    Setting("network", "str", None, "network for create/run when none is given; as --network",
            engine_neutral=False),
    Setting("cni_config_dir", "str", "/etc/simcon/net.d", "directory of the CNI network lists"),
    Setting("cni_plugin_dirs", "list", ["/usr/lib/cni", "/opt/cni/bin"], "directories searched for CNI plugins"),
    Setting("cni_data_dir", "str", "/var/lib/simcon/cni", "IPAM reservations of the networks SimCon writes "
            "(under networks/)"),
    Setting("host_resolv_conf", "str", "/etc/resolv.conf", "the host's resolv.conf that containers' start from"),
)
BY_KEY = {s.key: s for s in SETTINGS}


class Settings:
    """The effective value of every key and where it came from ("default", a file path, an env variable,
    or "flag")."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {s.key: s.default for s in SETTINGS}
        self.sources: dict[str, str] = {s.key: "default" for s in SETTINGS}

    def get(self, key: str) -> object:
        return self.values[key]

    def set(self, key: str, value: object, source: str) -> None:
        self.values[key] = value
        self.sources[key] = source

    def container_default(self, key: str, engine_call: bool) -> object:
        """A container default (seccomp_profile, init, ...), or its built-in default for an engine's call."""
        setting = BY_KEY[key]
        if engine_call and not setting.engine_neutral:
            return setting.default
        return self.values[key]


def config_files(environ: dict[str, str] | None = None, euid: int | None = None) -> list[str]:
    """The config files that apply, lowest precedence first (only those that exist)."""
    environ = os.environ if environ is None else environ
    euid = os.geteuid() if euid is None else euid
    candidates = [SYSTEM_FILE]
    if euid != 0:
        base = environ.get("XDG_CONFIG_HOME") or os.path.join(environ.get("HOME", "/"), ".config")
        candidates.append(os.path.join(base, "simcon", "simcon.toml"))
    named = environ.get(CONFIG_ENV)
    found = [path for path in candidates if os.path.isfile(path)]
    if named:
        if not os.path.isfile(named):
            raise SettingsError(f"${CONFIG_ENV}", "", f"`{named}` is not a file")
        found.append(named)
    return found


def load(environ: dict[str, str] | None = None, euid: int | None = None) -> Settings:
    """Defaults, then the files, then the environment. Flags are the CLI's to apply on top."""
    environ = os.environ if environ is None else environ
    settings = Settings()
    for path in config_files(environ, euid):
        for key, value in read_file(path).items():
            settings.set(key, value, path)
    for setting in SETTINGS:
        text = environ.get(setting.env)
        if text is not None:
            settings.set(setting.key, _from_env(setting, text), setting.env)
    return settings


def read_file(path: str) -> dict[str, object]:
    """One config file's keys, checked: unknown keys and wrong types name the file, line and key."""
    import tomllib

    # A FIFO or device would block or never end: only a regular file is read.
    if not os.path.isfile(path):
        raise SettingsError(path, "", "not a regular file" if os.path.exists(path) else "no such file")
    try:
        with open(path, "rb") as f:
            text = f.read(1 << 20)
    except OSError as exc:
        raise SettingsError(path, "", exc.strerror or str(exc)) from exc
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SettingsError(path, "", f"not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(path, "", f"invalid TOML: {exc}") from None
    lines = text.decode("utf-8").splitlines()
    checked = {}
    for key, value in data.items():
        where = f"{path}:{_line_of(lines, key)}"
        setting = BY_KEY.get(key)
        if setting is None:
            hint = _closest(key, BY_KEY)
            raise SettingsError(where, key, "unknown key" + (f" (did you mean `{hint}`?)" if hint else ""))
        checked[key] = _checked(setting, value, where)
    return checked


def _line_of(lines: list[str], key: str) -> int:
    for number, line in enumerate(lines, 1):
        stripped = line.lstrip()
        if stripped.startswith(key) and stripped[len(key):].lstrip().startswith(("=", ".")):
            return number
        if stripped.startswith(("[", "[[")) and stripped.strip("[] \t") == key:
            return number
    return 0


def _checked(setting: Setting, value: object, where: str) -> object:
    kind = setting.kind
    if kind == "str":
        if not isinstance(value, str):
            raise SettingsError(where, setting.key, f"expected a string, got {_type_name(value)}")
        if "\0" in value:
            raise SettingsError(where, setting.key, "contains a NUL byte")
        if setting.choices and value not in setting.choices:
            raise SettingsError(where, setting.key, f"expected one of {', '.join(setting.choices)}, got {value!r}")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise SettingsError(where, setting.key, f"expected true or false, got {_type_name(value)}")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(where, setting.key, f"expected a number, got {_type_name(value)}")
        if not 0 < value < 1e9:
            raise SettingsError(where, setting.key, f"expected a positive number, got {value!r}")
        value = float(value)
    elif kind == "list":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise SettingsError(where, setting.key, f"expected a list of strings, got {_type_name(value)}")
    elif kind == "table":
        if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
            raise SettingsError(where, setting.key, "expected a table of strings (KEY = \"VALUE\")")
    return value


def _from_env(setting: Setting, text: str) -> object:
    where = f"${setting.env}"
    kind = setting.kind
    if kind == "bool":
        lowered = text.lower()
        if lowered not in ("1", "0", "true", "false", "yes", "no"):
            raise SettingsError(where, "", f"expected true or false, got {text!r}")
        return lowered in ("1", "true", "yes")
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise SettingsError(where, "", f"expected a number, got {text!r}") from None
        return _checked(setting, number, where)
    if kind == "list":
        return [item for item in text.split(":") if item]
    if kind == "table":
        table = {}
        for item in filter(None, text.split(",")):
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise SettingsError(where, "", f"expected KEY=VALUE[,KEY=VALUE...], got {item!r}")
            table[name.strip()] = value.strip()
        return table
    return _checked(setting, text, where)


def _type_name(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def _closest(word: str, candidates: object) -> str | None:
    import difflib

    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def render_toml_value(value: object) -> str:
    """A value as TOML would write it (for `simcon config show` and the generated reference)."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(render_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {render_toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def reference_table() -> str:
    """The Markdown table of every key, for docs/configuration.md (`make docs` writes it there)."""
    rows = ["| key | type | default | environment | meaning |", "| --- | --- | --- | --- | --- |"]
    for s in SETTINGS:
        kind = s.kind if not s.choices else " \\| ".join(s.choices)
        meaning = s.help + ("" if s.engine_neutral else " (not applied to engines' calls)")
        rows.append(f"| `{s.key}` | {kind} | `{render_toml_value(s.default)}` | `{s.env}` | {meaning} |")
    return "\n".join(rows) + "\n"
