"""rlimits, noNewPrivileges, oomScoreAdj, sysctl and personality, as the process inside sees them."""

from __future__ import annotations

import resource

import pytest

RLIMIT_NUMBERS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4, "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}

# /proc/self/limits row title -> rlimit type
LIMIT_ROWS = {
    "Max cpu time": "RLIMIT_CPU", "Max file size": "RLIMIT_FSIZE", "Max data size": "RLIMIT_DATA",
    "Max stack size": "RLIMIT_STACK", "Max core file size": "RLIMIT_CORE", "Max resident set": "RLIMIT_RSS",
    "Max processes": "RLIMIT_NPROC", "Max open files": "RLIMIT_NOFILE", "Max locked memory": "RLIMIT_MEMLOCK",
    "Max address space": "RLIMIT_AS", "Max file locks": "RLIMIT_LOCKS", "Max pending signals": "RLIMIT_SIGPENDING",
    "Max msgqueue size": "RLIMIT_MSGQUEUE", "Max nice priority": "RLIMIT_NICE",
    "Max realtime priority": "RLIMIT_RTPRIO", "Max realtime timeout": "RLIMIT_RTTIME",
}


def parse_limits(text: str) -> dict[str, tuple[str, str]]:
    result = {}
    for line in text.splitlines():
        for title, kind in LIMIT_ROWS.items():
            if line.startswith(title):
                soft, hard = line[len(title):].split()[:2]
                result[kind] = (soft, hard)
    return result


def run_ok(rt, args: list[str], edit=None) -> str:
    proc = rt.run_container(args, edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    return proc.stdout


def one_line_error(rt, proc, *needles: str) -> None:
    assert proc.returncode != 0, rt.describe(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], proc.stderr
    assert rt.root_entries() == []


# --- rlimits --------------------------------------------------------------------------------------------------


def wanted_limits() -> dict[str, tuple[int, int]]:
    """A (soft, hard) for every rlimit type that stays within this process's own hard limits."""
    wanted = {}
    for i, kind in enumerate(LIMIT_ROWS.values()):
        own_hard = resource.getrlimit(RLIMIT_NUMBERS[kind])[1]
        hard = 100_000 + 1000 * i
        if own_hard != resource.RLIM_INFINITY:
            hard = min(hard, own_hard)
        wanted[kind] = (hard // 2, hard)
    # The container still has to start: keep the ones a shell needs generous.
    wanted["RLIMIT_NOFILE"] = (64, 128)
    for kind in ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_RSS", "RLIMIT_MEMLOCK", "RLIMIT_FSIZE"):
        own_hard = resource.getrlimit(RLIMIT_NUMBERS[kind])[1]
        big = 1 << 40 if own_hard == resource.RLIM_INFINITY else own_hard
        wanted[kind] = (big, big)
    return wanted


def test_every_rlimit_type_is_applied(rt) -> None:
    wanted = wanted_limits()

    def edit(bundle) -> None:
        bundle.config["process"]["rlimits"] = [{"type": k, "soft": s, "hard": h} for k, (s, h) in wanted.items()]

    seen = parse_limits(run_ok(rt, ["cat", "/proc/self/limits"], edit))
    assert set(seen) == set(wanted)
    for kind, (soft, hard) in wanted.items():
        assert seen[kind] == (str(soft), str(hard)), kind


def test_rlimit_nofile_is_what_ulimit_shows(rt) -> None:
    def edit(bundle) -> None:
        bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 77, "hard": 99}]

    assert run_ok(rt, ["sh", "-c", "ulimit -n; ulimit -Hn"], edit).split() == ["77", "99"]


@pytest.mark.simcon_only("SimCon refuses before fork, naming the JSON path")
def test_hard_rlimit_above_our_own_is_a_clear_error(rt) -> None:
    # SimCon with a finite hard limit of its own and without CAP_SYS_RESOURCE to raise it, whatever the test holds.
    own_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limit = 4096 if own_hard == resource.RLIM_INFINITY or own_hard > 4096 else own_hard
    wrap = ["sh", "-c", f'ulimit -n {limit} && exec "$@"', "sh", *rt.WITHOUT_CAP_SYS_RESOURCE]

    def edit(bundle) -> None:
        bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": limit + 1}]

    proc = rt.run_container(["true"], edit=edit, wrap=wrap)
    one_line_error(rt, proc, "process.rlimits[0].hard", "CAP_SYS_RESOURCE", str(limit))


@pytest.mark.simcon_only("SimCon's message and JSON path")
def test_unknown_rlimit_is_a_clear_error(rt) -> None:
    def edit(bundle) -> None:
        bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]

    one_line_error(rt, rt.run_container(["true"], edit=edit), "process.rlimits[0].type", "RLIMIT_FOO")


# --- noNewPrivileges ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False])
def test_no_new_privileges(rt, value: bool) -> None:
    def edit(bundle) -> None:
        bundle.config["process"]["noNewPrivileges"] = value

    out = run_ok(rt, ["grep", "^NoNewPrivs", "/proc/self/status"], edit)
    assert out.split() == ["NoNewPrivs:", "1" if value else "0"]


# --- oomScoreAdj ----------------------------------------------------------------------------------------------


def test_oom_score_adj(rt) -> None:
    def edit(bundle) -> None:
        bundle.config["process"]["oomScoreAdj"] = 543

    assert run_ok(rt, ["cat", "/proc/self/oom_score_adj"], edit).strip() == "543"


# Below our own value: tests/integration/test_spec_conformance.py (written as runc does; only the kernel refuses).


# --- sysctl ---------------------------------------------------------------------------------------------------


def test_namespaced_sysctls_are_written_inside_only(rt) -> None:
    host_forward = open("/proc/sys/net/ipv4/ip_forward").read().strip()
    host_shmmni = open("/proc/sys/kernel/shmmni").read().strip()
    new_forward = "0" if host_forward == "1" else "1"
    new_shmmni = "1234" if host_shmmni != "1234" else "1235"

    def edit(bundle) -> None:
        bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": new_forward, "kernel.shmmni": new_shmmni}

    out = run_ok(rt, ["cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmni"], edit)
    assert out.split() == [new_forward, new_shmmni]
    assert open("/proc/sys/net/ipv4/ip_forward").read().strip() == host_forward
    assert open("/proc/sys/kernel/shmmni").read().strip() == host_shmmni


@pytest.mark.simcon_only("SimCon's message and JSON path")
def test_host_wide_sysctl_is_refused(rt) -> None:
    def edit(bundle) -> None:
        bundle.config["linux"]["sysctl"] = {"vm.swappiness": "10"}

    one_line_error(rt, rt.run_container(["true"], edit=edit), 'linux.sysctl["vm.swappiness"]', "not a namespaced")


@pytest.mark.simcon_only("SimCon's message and JSON path")
def test_net_sysctl_without_a_network_namespace_is_refused(rt) -> None:
    host_forward = open("/proc/sys/net/ipv4/ip_forward").read().strip()

    def edit(bundle) -> None:
        bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"]
                                                if n["type"] != "network"]
        bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": host_forward}

    one_line_error(rt, rt.run_container(["true"], edit=edit), 'linux.sysctl["net.ipv4.ip_forward"]',
                   "network namespace")


# --- personality ----------------------------------------------------------------------------------------------


@pytest.mark.simcon_only("runc 1.1.5 ignores linux.personality (it came in runc 1.2)")
def test_personality_linux32_makes_uname_say_i686(rt) -> None:
    def edit(bundle) -> None:
        bundle.config["linux"]["personality"] = {"domain": "LINUX32"}

    assert run_ok(rt, ["uname", "-m"], edit).strip() == "i686"
    assert run_ok(rt, ["uname", "-m"]).strip() == "x86_64"


# --- session keyring ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("no_new_keyring", [False, True])
def test_a_new_session_keyring_unless_no_new_keyring(rt, no_new_keyring: bool) -> None:
    bundle = rt.bundle(["cat", "/proc/keys"], write=False)
    bundle.config["linux"]["maskedPaths"] = [p for p in bundle.config["linux"]["maskedPaths"] if p != "/proc/keys"]
    bundle.write()
    flags = ["--no-new-keyring"] if no_new_keyring else []
    proc = rt.run("run", *flags, "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    names = [line.split()[-2].rstrip(":") for line in proc.stdout.splitlines()]
    assert (f"_ses.{bundle.cid}" in names) is (not no_new_keyring), proc.stdout
