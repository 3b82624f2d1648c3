"""The journald and syslog drivers against real receivers: a private systemd-journald, and socat on loopback.

systemd is installed but not running here: the test starts its own systemd-journald in a private mount namespace
(a tmpfs over /run and /var/log/journal there, so the host's are untouched), its socket and
journal files in the test's tmp dir, and reads the entries back with `journalctl --directory`.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.simcon_only("SimCon's log drivers")

JOURNALD = "/lib/systemd/systemd-journald"


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_file(path: Path, predicate, timeout: float = 30.0) -> bytes:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        data = path.read_bytes() if path.exists() else b""
        if predicate(data) or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


def _run(rt, script: str, *opts: str):  # noqa: ANN001, ANN202
    bundle = rt.bundle(["sh", "-c", script])
    rt.ok("run", "-d", *opts, "--bundle", bundle.path, bundle.cid)
    rt.wait_for(lambda: "exitCode" in rt.state(bundle.cid), what="the container to finish")
    return bundle


@pytest.fixture
def receiver(rt):  # noqa: ANN001, ANN201
    """Start socat (argv, output file) and stop it afterwards."""
    started: list[subprocess.Popen] = []

    def start(listen: str, out: Path) -> None:
        proc = subprocess.Popen(["socat", "-u", listen, f"OPEN:{out},creat,append"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(proc)
        time.sleep(0.3)  # socat binds at once; no output to wait on
        assert proc.poll() is None, proc.stderr.read()

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is installed by scripts/install-deps.sh")
@pytest.mark.parametrize("transport", ["udp", "tcp", "unix"])
def test_syslog_rfc5424(rt, receiver, transport: str) -> None:  # noqa: ANN001
    out = rt.tmp / "received"
    if transport == "unix":
        path = rt.tmp / "log.sock"
        receiver(f"UNIX-RECV:{path}", out)
        address = f"unix://{path}"
    elif transport == "udp":
        port = _free_port(socket.SOCK_DGRAM)
        receiver(f"UDP-RECV:{port},bind=127.0.0.1", out)
        address = f"udp://127.0.0.1:{port}"
    else:
        port = _free_port(socket.SOCK_STREAM)
        receiver(f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", out)  # fork: create probes it first
        address = f"tcp://127.0.0.1:{port}"
    bundle = _run(rt, "echo hello; echo oops >&2", "--log-driver", "syslog", "--log-opt", f"address={address}",
                  "--log-opt", "facility=local3", "--log-opt", "tag=webapp")
    data = _wait_file(out, lambda d: b"oops" in d and b"hello" in d)
    if transport == "tcp":  # octet counting: "LEN SP MSG" with nothing between frames
        frames = []
        while data:
            length, _, rest = data.partition(b" ")
            frames.append(rest[:int(length)])
            data = rest[int(length):]
    else:
        frames = _datagrams(data)
    messages = sorted(frames)
    assert len(messages) == 2, messages
    host = socket.gethostname().encode()
    by_text = {m.rsplit(b" ", 1)[1]: m for m in messages}
    for text, severity in ((b"hello", 6), (b"oops", 3)):
        head, _, rest = by_text[text].partition(b">")
        assert head == b"<%d" % (19 * 8 + severity)
        version, stamp, hostname, app, procid, msgid, sd, msg = rest.split(b" ", 7)
        assert (version, hostname, app, procid, msgid, sd, msg) == (b"1", host, b"webapp", b"-", b"-", b"-", text)
        assert stamp.endswith(b"Z") and len(stamp) == 27
    assert rt.state(bundle.cid)["logDriver"] == "syslog"
    proc = rt.run("logs", bundle.cid)
    assert proc.returncode == 1 and "journalctl, the syslog receiver" in proc.stderr


def _datagrams(data: bytes) -> list[bytes]:
    """socat writes datagrams back to back: cut before each `<PRI>1 ` header."""
    starts = [i for i in range(len(data)) if data[i:i + 1] == b"<" and data[i + 1:i + 6].split(b">")[0].isdigit()
              and data[i:].split(b">", 1)[1][:2] == b"1 "]
    return [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]


def test_syslog_unreachable_address_is_a_clear_error(rt) -> None:  # noqa: ANN001
    bundle = rt.bundle(["true"])
    port = _free_port(socket.SOCK_STREAM)
    proc = rt.run("run", "-d", "--log-driver", "syslog", "--log-opt", f"address=tcp://127.0.0.1:{port}",
                  "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 1 and "cannot reach it" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and rt.root_entries() == []


@pytest.fixture
def journald(rt):  # noqa: ANN001, ANN201
    """A private systemd-journald; yields (socket path, journal directory)."""
    sock_dir, store = rt.mkdir("journal-socket"), rt.mkdir("journal-store")
    script = ("set -e; mount -t tmpfs tmpfs /run; mkdir -p /run/systemd/journal /run/log/journal; "
              f"mount --bind {sock_dir} /run/systemd/journal; mount --bind {store} /run/log/journal; "
              f"if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi; exec {JOURNALD}")
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        rt.wait_for(lambda: (sock_dir / "socket").exists() or proc.poll() is not None, what="journald to listen")
        assert proc.poll() is None, proc.stderr.read()
        yield sock_dir / "socket", store
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _entries(store: Path, cid: str) -> list[dict]:
    out = subprocess.run(["journalctl", f"--directory={store}", "-o", "json", "--no-pager",
                          f"CONTAINER_ID_FULL={cid}"], capture_output=True, check=False, timeout=60).stdout
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.skipif(not Path(JOURNALD).exists(), reason="systemd is installed by the base system")
def test_journald_native_protocol(rt, journald) -> None:  # noqa: ANN001
    sock, store = journald
    bundle = _run(rt, "echo hello; printf 'multi\\tword\\n' >&2; printf 'no newline'", "--log-driver", "journald",
                  "--log-opt", f"socket={sock}", "--log-opt", "tag=webapp")
    entries = []
    deadline = time.monotonic() + 30
    while len(entries) < 3 and time.monotonic() < deadline:
        entries = _entries(store, bundle.cid)
        time.sleep(0.2)
    by_message = {e["MESSAGE"]: e for e in entries}
    assert set(by_message) == {"hello", "multi\tword", "no newline"}, entries
    assert by_message["hello"]["PRIORITY"] == "6" and by_message["multi\tword"]["PRIORITY"] == "3"
    assert by_message["no newline"]["CONTAINER_PARTIAL_MESSAGE"] == "true"
    for entry in entries:
        assert entry["SYSLOG_IDENTIFIER"] == "webapp" and entry["CONTAINER_NAME"] == bundle.cid
        assert entry["CONTAINER_ID"] == bundle.cid[:12]


def test_journald_not_listening_is_a_clear_error(rt) -> None:  # noqa: ANN001
    bundle = rt.bundle(["true"])
    proc = rt.run("run", "-d", "--log-driver", "journald", "--log-opt", f"socket={rt.tmp}/no-journal",
                  "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 1 and "no journal is listening" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and rt.root_entries() == []
