"""CNI networking with the real plugins (containernetworking-plugins), never in the host's root netns.

Each test makes a throwaway "host" network namespace (pinned on a file in its tmp dir, `unshare --net=FILE`) and
runs every simcon command under `nsenter --net=FILE`, so the bridge, the veths, the iptables rules and the
container namespaces live and die there. The network configs, the IPAM reservations and the host's resolv.conf
the container starts from are in the test's tmp dir too (the settings SIMCON_CNI_CONFIG_DIR, SIMCON_CNI_DATA_DIR,
SIMCON_HOST_RESOLV_CONF). Teardown deletes the containers inside that namespace, then drops it.

SIMCON_NET_CYCLES sets the create/start/delete cycles of the leak test (default 5 in `make test`;
`make test-net-leaks` runs 100).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.simcon_only("CNI networking is SimCon's own"),
    pytest.mark.skipif(not os.access("/usr/lib/cni/bridge", os.X_OK),
                       reason="containernetworking-plugins is not installed (make setup installs it)"),
]

HTTP_PORT = 8000
# A tiny web server for the busybox payload.
HTTPD = f"mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p {HTTP_PORT} -h /www"
# A UDP echo server; python comes from the host's /usr, bind-mounted read-only (busybox has no UDP server).
UDP_ECHO = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('0.0.0.0', 5353))\n"
            "while True:\n    data, peer = s.recvfrom(100)\n    s.sendto(b'echo:' + data, peer)\n")
UDP_ASK = ("import socket, sys\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(2)\n"
           "for _ in range(10):\n    s.sendto(b'ping', (sys.argv[1], int(sys.argv[2])))\n"
           "    try:\n        print(s.recvfrom(100)[0].decode()); break\n    except OSError:\n        pass\n")


class NetHost:
    """The throwaway "host" network namespace and how to run things in it."""

    def __init__(self, rt, tmp: Path) -> None:  # noqa: ANN001
        self.rt = rt
        self.dir = tmp
        self.netns = tmp / "hostns"
        self.config_dir = tmp / "net.d"
        self.data_dir = tmp / "cni-data"
        self.resolv = tmp / "host-resolv.conf"
        self.resolv.write_text("nameserver 127.0.0.53\nnameserver 192.0.2.99\nsearch host.test\n")
        self.netns.touch()
        subprocess.run(["unshare", f"--net={self.netns}", "true"], check=True)
        self.sh("ip link set lo up")
        self.env = {"SIMCON_CNI_CONFIG_DIR": str(self.config_dir), "SIMCON_CNI_DATA_DIR": str(self.data_dir),
                    "SIMCON_HOST_RESOLV_CONF": str(self.resolv)}
        self.servers: list[subprocess.Popen] = []

    def wrap(self, **env: str) -> list[str]:
        pairs = [f"{k}={v}" for k, v in {**self.env, **env}.items()]
        return ["env", *pairs, "nsenter", f"--net={self.netns}"]

    def simcon(self, *args: str | Path, **env: str) -> subprocess.CompletedProcess:
        return self.rt.run(*args, wrap=self.wrap(**env))

    def ok(self, *args: str | Path, **env: str) -> subprocess.CompletedProcess:
        proc = self.simcon(*args, **env)
        assert proc.returncode == 0, self.rt.describe(proc)
        return proc

    def sh(self, command: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        proc = subprocess.run(["nsenter", f"--net={self.netns}", "sh", "-c", command], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check:
            assert proc.returncode == 0, f"{command}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def serve(self, argv: list[str]) -> subprocess.Popen:
        """A server process in the "host" namespace; the test kills it (by this Popen) when done."""
        proc = subprocess.Popen(["nsenter", f"--net={self.netns}", *argv], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.servers.append(proc)
        return proc

    def run_detached(self, args: list[str], *options: str, edit=None, **env: str) -> str:  # noqa: ANN001
        bundle = self.rt.bundle(args, write=False)
        if edit is not None:
            edit(bundle)
        bundle.write()
        self.ok("run", "-d", *options, "--bundle", bundle.path, bundle.cid, **env)
        return bundle.cid

    def run_fg(self, args: list[str], *options: str, edit=None, **env: str) -> subprocess.CompletedProcess:  # noqa: ANN001
        bundle = self.rt.bundle(args, write=False)
        if edit is not None:
            edit(bundle)
        bundle.write()
        return self.simcon("run", *options, "--bundle", bundle.path, bundle.cid, **env)

    def ip_of(self, cid: str) -> str:
        network = json.loads(self.ok("state", cid).stdout)["network"]
        return network["ips"][0].split("/")[0]

    def snapshot(self) -> dict:
        """What networking leaves behind in the "host": links, rules, IPAM reservations, our netns mounts."""
        links = sorted(re.sub(r"^\d+: ", "", line).split("@")[0].split(":")[0]
                       for line in self.sh("ip -o link").stdout.splitlines())
        rules = sorted(line for line in self.sh("iptables-save").stdout.splitlines()
                       if not line.startswith("#"))
        rules = [re.sub(r"\[\d+:\d+\]", "", line) for line in rules]
        ipam = sorted(str(p.relative_to(self.data_dir)) for p in self.data_dir.rglob("*")
                      if p.is_file() and p.name not in ("lock",) and not p.name.startswith("last_reserved_ip"))
        mounts = sorted(line.split()[4] for line in self.rt.read_mountinfo()
                        if line.split()[4].startswith(str(self.rt.root)))
        return {"links": links, "rules": rules, "ipam": ipam, "mounts": mounts}

    def cleanup(self) -> None:
        for server in self.servers:
            server.kill()
            server.wait()
        listed = self.simcon("list", "-q")
        for cid in {*self.rt.ids, *listed.stdout.split()}:
            self.simcon("delete", "--force", cid)
        # A container whose delete failed here must not reach `rt`'s teardown, which deletes without nsenter: its
        # DEL would run the plugins in the host's root namespace. Its state goes (the cgroup is rt's to kill).
        for leftover in self.rt.root.glob("*/netns") if self.rt.root.exists() else []:
            subprocess.run(["umount", "-l", str(leftover)], capture_output=True)
            shutil.rmtree(leftover.parent, ignore_errors=True)
        subprocess.run(["umount", "-l", str(self.netns)], capture_output=True)


@pytest.fixture
def host(rt):  # noqa: ANN001, ANN201
    # Torn down before `rt` (which deletes with no nsenter): every DEL must run inside the throwaway namespace.
    nethost = NetHost(rt, rt.mkdir("nethost"))
    try:
        yield nethost
    finally:
        nethost.cleanup()


def _with_host_python(bundle) -> None:  # noqa: ANN001
    rootfs = bundle.rootfs
    for link, target in (("lib", "usr/lib"), ("lib64", "usr/lib64")):
        if not (rootfs / link).exists():
            (rootfs / link).symlink_to(target)
    (rootfs / "usr").mkdir(exist_ok=True)
    bundle.add_mount("/usr", "/usr", ["ro"])


# ---------------------------------------------------------------------------------------------------------------
# Connectivity


def test_bridge_container_to_host_and_to_container(host: NetHost) -> None:
    a = host.run_detached(["sh", "-c", HTTPD], "--network", "bridge")
    b = host.run_detached(["sh", "-c", HTTPD], "--network", "bridge")
    ip_a, ip_b = host.ip_of(a), host.ip_of(b)
    assert ip_a != ip_b and ip_a.startswith("10.77.")
    # host side -> container
    assert host.sh(f"wget -q -O- -T 5 http://{ip_a}:{HTTP_PORT}/").stdout.strip() == "hello-from-simcon"
    # container -> container, and container -> the host side (the bridge's gateway address)
    # (busybox-static's wget crashes in a rootfs without glibc's NSS modules: plain HTTP over nc instead)
    out = host.ok("exec", a, "sh", "-c", f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {ip_b} {HTTP_PORT}").stdout
    assert out.splitlines()[0].startswith("HTTP/1.") and out.splitlines()[-1] == "hello-from-simcon"
    www = host.rt.mkdir("host-www")
    (www / "index.html").write_text("from-host\n")
    host.serve(["busybox", "httpd", "-f", "-p", "9999", "-h", str(www)])
    ask = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 10.77.0.1 9999"
    out = host.rt.wait_for(lambda: host.simcon("exec", a, "sh", "-c", ask).stdout, 30, "the host's web server")
    assert out.splitlines()[-1] == "from-host"


def test_published_tcp_and_udp_ports_from_loopback_and_from_another_netns(host: NetHost) -> None:
    cid = host.run_detached(["sh", "-c", f"{HTTPD} & exec /usr/bin/python3 -c \"$UDP_ECHO\""],
                            "-p", f"18080:{HTTP_PORT}", "-p", "15353:5353/udp", "--network", "bridge",
                            edit=lambda b: (_with_host_python(b),
                                            b.config["process"]["env"].append(f"UDP_ECHO={UDP_ECHO}")))
    # From the "host"'s own loopback (portmap's localhost DNAT).
    host.rt.wait_for(lambda: host.sh("wget -q -O- -T 2 http://127.0.0.1:18080/", check=False).returncode == 0,
                  30, "the published web server")
    assert host.sh("wget -q -O- -T 5 http://127.0.0.1:18080/").stdout.strip() == "hello-from-simcon"
    udp = host.sh(f"/usr/bin/python3 -c \"{UDP_ASK}\" 127.0.0.1 15353").stdout.strip()
    assert udp == "echo:ping"
    # From another namespace, through a veth the test makes between it and the "host".
    client = host.dir / "clientns"
    client.touch()
    subprocess.run(["unshare", f"--net={client}", "true"], check=True)
    try:
        host.sh(f"ip link add nt-host type veth peer name nt-client && ip link set nt-client netns {client} && "
                "ip addr add 192.0.2.1/24 dev nt-host && ip link set nt-host up")
        subprocess.run(["nsenter", f"--net={client}", "sh", "-c",
                        "ip addr add 192.0.2.2/24 dev nt-client && ip link set nt-client up && ip link set lo up"],
                       check=True)
        got = subprocess.run(["nsenter", f"--net={client}", "wget", "-q", "-O-", "-T", "5",
                              "http://192.0.2.1:18080/"], capture_output=True, text=True, timeout=30)
        assert got.stdout.strip() == "hello-from-simcon", got.stderr
        got = subprocess.run(["nsenter", f"--net={client}", "/usr/bin/python3", "-c", UDP_ASK, "192.0.2.1",
                              "15353"], capture_output=True, text=True, timeout=60)
        assert got.stdout.strip() == "echo:ping", got.stderr
    finally:
        subprocess.run(["umount", "-l", str(client)], capture_output=True)
    # `simcon port` and `simcon state` show the mappings.
    assert host.ok("port", cid).stdout.splitlines() == [f"{HTTP_PORT}/tcp -> 0.0.0.0:18080",
                                                         "5353/udp -> 0.0.0.0:15353"]
    network = json.loads(host.ok("state", cid).stdout)["network"]
    assert network["network"] == "simcon" and network["ports"][1] == {"hostPort": 15353, "containerPort": 5353,
                                                                     "protocol": "udp"}


def test_none_has_only_loopback_and_host_has_the_hosts_interfaces(host: NetHost) -> None:
    proc = host.run_fg(["sh", "-c", "ip -o link | cut -d: -f2; ip -o link show lo | grep -q LOWER_UP && echo lo-up"],
                       "--network", "none")
    assert proc.returncode == 0, host.rt.describe(proc)
    assert proc.stdout.split() == ["lo", "lo-up"]
    host.sh("ip link add nt-dummy type veth peer name nt-dummy2")
    expected = sorted(host.sh("ip -o link | cut -d: -f2 | cut -d@ -f1").stdout.split())
    proc = host.run_fg(["sh", "-c", "ip -o link | cut -d: -f2 | cut -d@ -f1"], "--network", "host")
    assert proc.returncode == 0, host.rt.describe(proc)
    assert sorted(proc.stdout.split()) == expected and "nt-dummy" in expected
    # Host networking uses the host's resolv.conf as it is (loopback nameservers included: they are reachable).
    proc = host.run_fg(["cat", "/etc/resolv.conf"], "--network", "host")
    assert proc.stdout == host.resolv.read_text()


def test_ns_path_joins_the_given_namespace(host: NetHost) -> None:
    target = host.dir / "otherns"
    target.touch()
    subprocess.run(["unshare", f"--net={target}", "sh", "-c", "ip link add nt-mark type veth peer name nt-mark2"], check=True)
    try:
        proc = host.run_fg(["sh", "-c", "ip -o link | cut -d: -f2 | cut -d@ -f1"], "--network", f"ns:{target}")
        assert proc.returncode == 0, host.rt.describe(proc)
        assert "nt-mark" in proc.stdout.split()
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


# ---------------------------------------------------------------------------------------------------------------
# DNS and hosts files


def test_dns_files_from_the_host_without_loopback(host: NetHost) -> None:
    proc = host.run_fg(["sh", "-c", "cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; cat /etc/hostname; "
                        "(echo x >> /etc/resolv.conf) 2>/dev/null && echo writable; true"], "--network", "bridge")
    assert proc.returncode == 0, host.rt.describe(proc)
    resolv, hosts, hostname = proc.stdout.split("---\n")
    assert "nameserver 192.0.2.99" in resolv and "127.0.0.53" not in resolv and "search host.test" in resolv
    assert re.search(r"^10\.77\.\d+\.\d+\tsimcon$", hosts, re.M) and "127.0.0.1\tlocalhost" in hosts
    assert hostname.strip() == "simcon"  # the config's hostname; "writable" would follow a writable resolv.conf


def test_dns_options_and_add_host(host: NetHost) -> None:
    proc = host.run_fg(["sh", "-c", "cat /etc/resolv.conf /etc/hosts"], "--network", "bridge", "--dns", "192.0.2.53",
                       "--dns-search", "a.test", "--dns-search", "b.test", "--dns-option", "ndots:3",
                       "--add-host", "db.local:10.1.2.3")
    assert proc.returncode == 0, host.rt.describe(proc)
    lines = proc.stdout.splitlines()
    assert "nameserver 192.0.2.53" in lines and "nameserver 192.0.2.99" not in lines
    assert "search a.test b.test" in lines and "options ndots:3" in lines and "10.1.2.3\tdb.local" in lines


def test_only_loopback_nameservers_fall_back_and_annotations_work(host: NetHost) -> None:
    host.resolv.write_text("nameserver 127.0.0.53\n")
    proc = host.run_fg(["cat", "/etc/resolv.conf"], edit=lambda b: b.config.setdefault("annotations", {}).update(
        {"run.oci.simcon.network": "bridge", "run.oci.simcon.dns-option": "rotate"}))
    assert proc.returncode == 0, host.rt.describe(proc)
    assert "nameserver 1.1.1.1" in proc.stdout and "127.0.0.53" not in proc.stdout
    assert "options rotate" in proc.stdout


def test_static_ip_and_mac(host: NetHost) -> None:
    proc = host.run_fg(["sh", "-c", "ip -o addr show eth0; ip -o link show eth0"], "--network", "bridge",
                       "--ip", "10.77.3.4", "--mac-address", "02:42:0a:4d:03:04")
    assert proc.returncode == 0, host.rt.describe(proc)
    assert "inet 10.77.3.4/16" in proc.stdout and "02:42:0a:4d:03:04" in proc.stdout


# ---------------------------------------------------------------------------------------------------------------
# Networks of one's own


def test_network_create_ls_inspect_rm_and_use(host: NetHost) -> None:
    assert host.ok("network", "create", "nt-own", "--subnet", "10.201.0.0/24").stdout.strip() == "nt-own"
    assert "nt-own" in host.ok("network", "ls", "-q").stdout.split()
    raw = json.loads(host.ok("network", "inspect", "nt-own").stdout)[0]
    assert raw["plugins"][0]["ipam"]["ranges"] == [[{"subnet": "10.201.0.0/24"}]]
    cid = host.run_detached(["sleep", "60"], "--network", "nt-own")
    assert host.ip_of(cid).startswith("10.201.0.")
    proc = host.simcon("network", "rm", "nt-own")
    assert proc.returncode == 1 and f"in use by container `{cid}`" in proc.stderr
    host.ok("delete", "--force", cid)
    host.ok("network", "rm", "nt-own")
    assert "nt-own" not in host.ok("network", "ls", "-q").stdout.split()


# ---------------------------------------------------------------------------------------------------------------
# Bad input: one line naming it, nothing left behind


def _assert_clean_failure(host: NetHost, proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0, host.rt.describe(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], proc.stderr
    assert host.rt.root_entries() == []
    assert not [l for l in host.sh("ip -o link").stdout.splitlines() if "veth" in l]


def test_bad_network_input(host: NetHost) -> None:
    args = ["true"]
    _assert_clean_failure(host, host.run_fg(args, "--network", "nt-nope"), "unknown network `nt-nope`")
    _assert_clean_failure(host, host.run_fg(args, "--network", "bridge", "-p", "80"), "--publish '80'")
    _assert_clean_failure(host, host.run_fg(args, "--network", "bridge", "--ip", "10.9.9.9"),
                          "--ip 10.9.9.9: not in the subnet of network `simcon`")
    empty = host.rt.mkdir("no-plugins")
    _assert_clean_failure(host, host.run_fg(args, "--network", "bridge", SIMCON_CNI_PLUGIN_DIRS=str(empty)),
                          "CNI plugin `loopback` not found")
    host.config_dir.mkdir(exist_ok=True)
    (host.config_dir / "nt-broken.conflist").write_text('{"name": "nt-broken", "plugins": [')
    _assert_clean_failure(host, host.run_fg(args, "--network", "nt-broken"), "nt-broken.conflist: not valid JSON")
    proc = host.simcon("network", "create", "nt-clash", "--subnet", "10.77.128.0/17")
    _assert_clean_failure(host, proc, "subnet 10.77.128.0/17 overlaps 10.77.0.0/16 of network `simcon`")


def test_port_in_use(host: NetHost) -> None:
    first = host.run_detached(["sleep", "60"], "--network", "bridge", "-p", "18090:80")
    before = host.snapshot()
    proc = host.run_fg(["true"], "--network", "bridge", "-p", "18090:80")
    assert proc.returncode == 1 and f"port 18090/tcp is already published by container `{first}`" in proc.stderr
    host.serve(["busybox", "nc", "-l", "-p", "18091"])
    host.rt.wait_for(lambda: ":46AB " in host.sh("cat /proc/net/tcp /proc/net/tcp6").stdout, 30, "the listener on 18091")
    proc = host.run_fg(["true"], "--network", "bridge", "-p", "18091:80")
    assert proc.returncode == 1 and "port 18091/tcp is already in use" in proc.stderr
    assert host.snapshot() == before


def test_failed_add_undoes_everything(host: NetHost) -> None:
    assert host.run_fg(["true"], "--network", "bridge", "-p", "18096:80").returncode == 0  # the bridge and shared chains exist now
    before = host.snapshot()
    conf = json.loads(host.ok("network", "inspect", "simcon").stdout)[0]
    conf["name"] = "nt-fails"
    conf["plugins"][0]["bridge"] = "simcon0"
    conf["plugins"].append({"type": "tuning", "sysctl": {"net.no.such.key": "1"}})  # after bridge and portmap
    (host.config_dir / "nt-fails.conflist").write_text(json.dumps(conf))
    proc = host.run_fg(["true"], "--network", "nt-fails", "-p", "18095:80")
    assert proc.returncode == 1
    assert "network `nt-fails`: CNI plugin `tuning`: ADD failed" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert host.rt.root_entries() == []
    assert host.snapshot() == before


# ---------------------------------------------------------------------------------------------------------------
# Leaks


def test_create_start_delete_cycles_leave_nothing(host: NetHost) -> None:
    cycles = int(os.environ.get("SIMCON_NET_CYCLES", "5"))
    bundle = host.rt.bundle(["sleep", "60"])
    host.ok("run", "-d", "--network", "bridge", "-p", "18100:80", "--bundle", bundle.path, bundle.cid)
    host.ok("delete", "--force", bundle.cid)  # the first use makes the bridge and the plugins' shared chains
    before = host.snapshot()
    for i in range(cycles):
        host.ok("create", "--network", "bridge", "-p", "18100:80", "-p", "18101:81/udp", "--bundle", bundle.path,
                bundle.cid)
        host.ok("start", bundle.cid)
        host.ok("delete", "--force", bundle.cid)
    assert host.snapshot() == before


def test_kill_9_of_the_container_then_delete_leaves_nothing(host: NetHost) -> None:
    warm = host.run_detached(["sleep", "60"], "--network", "bridge", "-p", "18105:80")
    host.ok("delete", "--force", warm)  # the first use makes the bridge and the plugins' shared chains
    before = host.snapshot()
    cid = host.run_detached(["sleep", "60"], "--network", "bridge", "-p", "18110:80")
    os.kill(json.loads(host.ok("state", cid).stdout)["pid"], signal.SIGKILL)
    host.rt.wait_for(lambda: json.loads(host.ok("state", cid).stdout)["status"] == "stopped", 30, "the container to stop")
    host.ok("delete", cid)
    assert host.snapshot() == before


def test_kill_9_of_simcon_mid_create_then_delete_leaves_nothing(host: NetHost) -> None:
    warm = host.run_detached(["sleep", "60"], "--network", "bridge", "-p", "18105:80")
    host.ok("delete", "--force", warm)  # the first use makes the bridge and the plugins' shared chains
    before = host.snapshot()
    marker = host.dir / "hook-ran"
    bundle = host.rt.bundle(["true"], write=False)
    # A createRuntime hook (it runs after ADD) that blocks, so create is caught with the network set up.
    bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", f"echo $$ > {marker}; exec sleep 60"]}]}
    bundle.write()
    proc = subprocess.Popen([*host.wrap(), *host.rt.argv("create", "--network", "bridge", "-p", "18120:80",
                                                         "--bundle", bundle.path, bundle.cid)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        host.rt.wait_for(lambda: marker.exists() and marker.read_text().strip(), 60, "the createRuntime hook")
        assert [l for l in host.sh("ip -o link").stdout.splitlines() if "veth" in l], "ADD should have run"
        proc.send_signal(signal.SIGKILL)  # nsenter execs simcon: this is SimCon itself
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    try:
        os.kill(int(marker.read_text()), signal.SIGKILL)  # the hook outlives the killed SimCon
    except ProcessLookupError:
        pass
    host.ok("delete", "--force", bundle.cid)
    assert host.snapshot() == before
    assert not [l for l in host.sh("ip -o link").stdout.splitlines() if "veth" in l]


def test_delete_when_the_netns_is_already_gone_still_releases_everything(host: NetHost) -> None:
    warm = host.run_detached(["sleep", "60"], "--network", "bridge", "-p", "18105:80")
    host.ok("delete", "--force", warm)
    before = host.snapshot()
    cid = host.run_detached(["sleep", "60"], "--network", "bridge", "-p", "18130:80")
    os.kill(json.loads(host.ok("state", cid).stdout)["pid"], signal.SIGKILL)
    host.rt.wait_for(lambda: json.loads(host.ok("state", cid).stdout)["status"] == "stopped", 30, "the container to stop")
    pin = host.rt.root / cid / "netns"
    subprocess.run(["umount", str(pin)], check=True)  # the namespace dies with its last user: as after a crash
    host.ok("delete", cid)  # DEL with an empty CNI_NETNS: addresses and rules released all the same
    assert host.snapshot() == before


def test_network_check_reports_a_healthy_attachment_and_names_what_broke(host: NetHost) -> None:
    """`network check ID` runs the plugins' CHECK with the result recorded at create (CNI spec: CHECK)."""
    cid = host.run_detached(["sleep", "60"], "--network", "bridge")
    proc = host.ok("network", "check", cid)
    assert proc.stdout == f"{cid}: ok\n"
    # Break it from outside: the container's address goes away; the bridge plugin's CHECK must notice.
    pin = host.rt.root / cid / "netns"
    subprocess.run(["nsenter", f"--net={pin}", "ip", "addr", "flush", "dev", "eth0"], check=True)
    proc = host.simcon("network", "check", cid)
    assert proc.returncode == 1, host.rt.describe(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and cid in lines[0] and "CHECK" in lines[0], proc.stderr
    none = host.run_detached(["sleep", "60"], "--network", "none")
    proc = host.simcon("network", "check", none)
    assert proc.returncode == 1 and "not attached to a CNI network" in proc.stderr, proc.stderr
