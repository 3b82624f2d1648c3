"""seccomp profiles as JSON data: SimCon's default profile, and profile files in the OCI or Docker/moby format.

The default profile (``seccomp_default.json`` next to this module) is an allow-list in the spirit of the
well-known container defaults: everything a normal program needs is allowed; kernel-module loading, kexec,
mount/umount/pivot_root, unshare/setns and clone with namespace flags, keyctl/add_key/request_key, bpf, ptrace
and process_vm_*, perf_event_open, reboot, swapon/swapoff, the clock setters, userfaultfd, open_by_handle_at,
io_uring, the new mount API and the rest of the list return EPERM. See docs/security.md.

A Docker/moby profile (``archMap``, ``includes``/``excludes``, ``comment``) is resolved for this host's
architecture, kernel and the container's bounding capabilities, the way Docker does when it writes an OCI config.
"""

from __future__ import annotations

import os

from simcon import fastjson
from simcon.errors import ConfigError, quote

# On the create path of every config with a seccomp section (for the names below): no `json` or `platform` (they
# compile regexes on import: ~17 ms); `copy` only where a profile file is read.

__all__ = ["ACTIONS", "FLAGS", "OPERATORS", "default_profile", "profile_from_file", "profile_problems"]

ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
           "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")
OPERATORS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
             "SCMP_CMP_MASKED_EQ")
FLAGS = ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
         "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")

_DEFAULT_FILE = os.path.join(os.path.dirname(__file__), "seccomp_default.json")

# uname -m -> the architectures a filter must cover there (the native one and its compat ABIs), and the
# names Docker profiles use for it in includes/excludes.arches (Go's GOARCH).
_ARCHES = {
    "x86_64": (["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], ("amd64", "x86_64")),
    "aarch64": (["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"], ("arm64", "aarch64")),
    "ppc64le": (["SCMP_ARCH_PPC64LE"], ("ppc64le",)),
    "s390x": (["SCMP_ARCH_S390X", "SCMP_ARCH_S390"], ("s390x",)),
    "riscv64": (["SCMP_ARCH_RISCV64"], ("riscv64",)),
}


def _host_arches(machine: str | None = None) -> tuple[list[str], tuple[str, ...]]:
    machine = machine or os.uname().machine
    return _ARCHES.get(machine, ([f"SCMP_ARCH_{machine.upper()}"], (machine,)))


def default_profile(machine: str | None = None) -> dict:
    """SimCon's default ``linux.seccomp`` section, for this host's architecture family."""
    with open(_DEFAULT_FILE, "rb") as f:
        profile = fastjson.loads(f.read())
    profile["architectures"] = list(_host_arches(machine)[0])
    return profile


def profile_from_file(path: str, bounding: list[str], *, machine: str | None = None,
                      kernel: str | None = None) -> dict:
    """A ``linux.seccomp`` section from a profile file in the OCI or the Docker/moby format.

    ``bounding`` is the container's bounding set, which Docker's ``includes.caps``/``excludes.caps`` test.
    Raises ``ConfigError`` naming the file and the JSON path of what is wrong.
    """
    import copy

    from simcon.spec.load import parse_json_file

    data = parse_json_file(path)  # the same refusals and error texts as config.json's
    if not isinstance(data, dict):
        raise ConfigError(path, "", "expected a JSON object (a seccomp profile)")
    if _is_docker_format(data):
        data = _from_docker(data, path, bounding, machine, kernel)
    problems = profile_problems(data)
    if problems:
        where, message = problems[0]
        raise ConfigError(path, where, message)
    return copy.deepcopy(data)


def _is_docker_format(data: dict) -> bool:
    if "archMap" in data:
        return True
    return any(isinstance(call, dict) and ({"includes", "excludes", "comment", "name"} & call.keys())
               for call in data.get("syscalls") or [])


def _kernel_at_least(minimum: str, kernel: str) -> bool:
    def parts(version: str) -> tuple[int, ...]:
        numbers = []
        for piece in version.split("-")[0].split(".")[:3]:
            digits = "".join(ch for ch in piece if ch.isdigit()) or "0"
            numbers.append(int(digits))
        return tuple(numbers)

    return parts(kernel) >= parts(minimum)


def _from_docker(data: dict, path: str, bounding: list[str], machine: str | None, kernel: str | None) -> dict:
    arches, go_names = _host_arches(machine)
    kernel = kernel or os.uname().release
    native = arches[0]
    profile: dict = {"defaultAction": data.get("defaultAction")}
    for key in ("defaultErrnoRet", "flags", "listenerPath", "listenerMetadata"):
        if key in data:
            profile[key] = data[key]
    architectures = list(data.get("architectures") or [])
    for i, entry in enumerate(data.get("archMap") or []):
        if not isinstance(entry, dict):
            raise ConfigError(path, f"archMap[{i}]", "expected an object")
        if entry.get("architecture") == native:
            architectures = [native, *(entry.get("subArchitectures") or [])]
    if architectures:
        profile["architectures"] = architectures
    syscalls = []
    for i, call in enumerate(data.get("syscalls") or []):
        if not isinstance(call, dict):
            raise ConfigError(path, f"syscalls[{i}]", "expected an object")
        includes = call.get("includes") or {}
        excludes = call.get("excludes") or {}
        if includes.get("arches") and not set(includes["arches"]) & set(go_names):
            continue
        if includes.get("caps") and not set(includes["caps"]) <= set(bounding):
            continue
        if includes.get("minKernel") and not _kernel_at_least(includes["minKernel"], kernel):
            continue
        if excludes.get("arches") and set(excludes["arches"]) & set(go_names):
            continue
        if excludes.get("caps") and set(excludes["caps"]) & set(bounding):
            continue
        names = call.get("names") or ([call["name"]] if call.get("name") else [])
        entry = {"names": names, "action": call.get("action")}
        for key in ("errnoRet", "args"):
            if call.get(key) is not None:
                entry[key] = call[key]
        syscalls.append(entry)
    profile["syscalls"] = syscalls
    return profile


def profile_problems(data: dict, prefix: str = "") -> list[tuple[str, str]]:
    """(JSON path, problem) for each thing wrong in an OCI ``linux.seccomp`` object (the first few kinds)."""
    problems: list[tuple[str, str]] = []

    def check_action(where: str, value: object) -> None:
        if not isinstance(value, str):
            problems.append((where, "required: a seccomp action like \"SCMP_ACT_ERRNO\""))
        elif value not in ACTIONS:
            problems.append((where, f'unknown seccomp action {quote(value)} (expected one of {", ".join(ACTIONS)})'))

    check_action(f"{prefix}defaultAction", data.get("defaultAction"))
    for i, flag in enumerate(data.get("flags") or []):
        if flag not in FLAGS:
            problems.append((f"{prefix}flags[{i}]", f'unknown seccomp flag {quote(str(flag))} (expected one of '
                                                     f'{", ".join(FLAGS)})'))
    for i, arch in enumerate(data.get("architectures") or []):
        if not (isinstance(arch, str) and arch.startswith("SCMP_ARCH_")):
            problems.append((f"{prefix}architectures[{i}]", f"unknown architecture {fastjson.dumps(arch)}"))
    syscalls = data.get("syscalls") or []
    if not isinstance(syscalls, list):
        return [*problems, (f"{prefix}syscalls", "expected an array")]
    for i, call in enumerate(syscalls):
        where = f"{prefix}syscalls[{i}]"
        if not isinstance(call, dict):
            problems.append((where, "expected an object"))
            continue
        names = call.get("names")
        if not names or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            problems.append((f"{where}.names", "required: a non-empty array of syscall names"))
        check_action(f"{where}.action", call.get("action"))
        for k, arg in enumerate(call.get("args") or []):
            if not isinstance(arg, dict):
                problems.append((f"{where}.args[{k}]", "expected an object"))
            elif arg.get("op") not in OPERATORS:
                problems.append((f"{where}.args[{k}].op", f"unknown operator {fastjson.dumps(arg.get('op'))} "
                                                           f'(expected one of {", ".join(OPERATORS)})'))
    return problems
