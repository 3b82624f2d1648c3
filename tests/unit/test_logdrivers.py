"""Log drivers without containers: record formats, rotation, option checks, reading back, the capture loop."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time

import pytest

from simcon.monitor.capture import LINE_LIMIT, Capture
from simcon.monitor.logdrivers import LogOptionError, open_driver, validate
from simcon.monitor.logdrivers.base import LogContext, Timestamps, parse_size, parse_timestamp
from simcon.monitor.logdrivers.files import parse_json_record, parse_k8s_record
from simcon.monitor.logdrivers.rotation import FileTarget
from simcon.runtime.logs import LogQuery, parse_time, read_logs, rotated_files

T0 = 1_764_669_600_123_456_789  # 2025-12-02T10:00:00.123456789Z


def _driver(tmp_path, name: str, **options: str):  # noqa: ANN001, ANN202
    return open_driver(name, options, LogContext("c1", path=str(tmp_path / "c.log")))


def _read(tmp_path, name: str, **query) -> tuple[bytes, bytes]:  # noqa: ANN001, ANN003
    out = {"stdout": [], "stderr": []}
    read_logs({"driver": name, "path": str(tmp_path / "c.log")}, LogQuery(**query),
              lambda stream, data: out[stream].append(data))
    return b"".join(out["stdout"]), b"".join(out["stderr"])


def test_k8s_file_records() -> None:
    assert Timestamps().format(T0) == "2025-12-02T10:00:00.123456789Z"


def test_k8s_file_full_and_partial_lines(tmp_path) -> None:  # noqa: ANN001
    driver = _driver(tmp_path, "k8s-file")
    driver.write("stdout", b"one\ntwo\npart", T0)
    driver.write("stderr", b"err\n", T0)
    driver.close()
    assert (tmp_path / "c.log").read_bytes() == (
        b"2025-12-02T10:00:00.123456789Z stdout F one\n"
        b"2025-12-02T10:00:00.123456789Z stdout F two\n"
        b"2025-12-02T10:00:00.123456789Z stdout P part\n"
        b"2025-12-02T10:00:00.123456789Z stderr F err\n")
    assert parse_k8s_record(b"2025-12-02T10:00:00.1Z stdout P part") == ("2025-12-02T10:00:00.1Z", "stdout", b"part",
                                                                          False)
    assert _read(tmp_path, "k8s-file") == (b"one\ntwo\npart", b"err\n")


def test_json_file_records_keep_any_byte(tmp_path) -> None:  # noqa: ANN001
    driver = _driver(tmp_path, "json-file")
    data = b"caf\xc3\xa9 \xff\x00\r\n\"quoted\"\ncut"
    driver.write("stdout", data, T0)
    driver.close()
    records = [json.loads(line) for line in (tmp_path / "c.log").read_text().splitlines()]
    assert records[0] == {"log": "caf\u00e9 \udcff\x00\r\n", "stream": "stdout", "time": "2025-12-02T10:00:00.123456789Z"}
    assert records[2]["log"] == "cut"
    assert parse_json_record((tmp_path / "c.log").read_bytes().splitlines()[0])[2] == b"caf\xc3\xa9 \xff\x00\r\n"
    assert _read(tmp_path, "json-file") == (data, b"")


def test_rotation_keeps_whole_records_and_compresses_all_but_the_newest(tmp_path) -> None:  # noqa: ANN001
    target = FileTarget(str(tmp_path / "c.log"), 100, 4, True)
    for n in range(40):
        target.write(b"record %03d\n" % n)  # 11 bytes
    target.close()
    names = sorted(os.listdir(tmp_path))
    assert names == ["c.log", "c.log.1", "c.log.2.gz", "c.log.3.gz"]
    files = [gzip.decompress((tmp_path / n).read_bytes()) for n in ("c.log.3.gz", "c.log.2.gz")]
    files += [(tmp_path / n).read_bytes() for n in ("c.log.1", "c.log")]
    assert all(len(f) <= 100 and f.endswith(b"\n") for f in files)
    joined = b"".join(files)
    assert joined == b"".join(b"record %03d\n" % n for n in range(40 - joined.count(b"\n"), 40))
    assert rotated_files(str(tmp_path / "c.log")) == [str(tmp_path / n) for n in ("c.log.3.gz", "c.log.2.gz",
                                                                                  "c.log.1")]


def test_a_record_larger_than_max_size_is_not_split(tmp_path) -> None:  # noqa: ANN001
    target = FileTarget(str(tmp_path / "c.log"), 10, 2, False)
    target.write(b"short\n" + b"x" * 50 + b"\n" + b"after\n")
    target.close()
    assert (tmp_path / "c.log.1").read_bytes() == b"x" * 50 + b"\n"
    assert (tmp_path / "c.log").read_bytes() == b"after\n"


def test_max_file_one_keeps_only_the_current_file(tmp_path) -> None:  # noqa: ANN001
    target = FileTarget(str(tmp_path / "c.log"), 10, 1, True)
    target.write(b"aaaaaaaaa\nbbbbbbbbb\n")
    target.close()
    assert os.listdir(tmp_path) == ["c.log"] and (tmp_path / "c.log").read_bytes() == b"bbbbbbbbb\n"


@pytest.mark.parametrize("name, options, expected", [
    ("k8s-file", {"max-size": "ten"}, "max-size='ten'"),
    ("k8s-file", {"max-file": "0"}, "max-file='0'"),
    ("json-file", {"compress": "maybe"}, "compress='maybe'"),
    ("json-file", {"path": "relative.log"}, "absolute file path"),
    ("k8s-file", {"colour": "red"}, "unknown option `colour`"),
    ("none", {"max-size": "1m"}, "unknown option `max-size`"),
    ("no-such", {}, "no such log driver"),
])
def test_bad_options_name_the_driver_and_option(name: str, options: dict, expected: str) -> None:
    with pytest.raises(LogOptionError) as err:
        validate(name, options)
    assert expected in str(err.value) and str(err.value).startswith("log driver `")


def test_sizes_and_times() -> None:
    assert parse_size("d", "max-size", "20m") == 20 << 20
    assert parse_size("d", "max-size", "512k") == 512 << 10
    assert parse_size("d", "max-size", "-1") == 0
    assert parse_timestamp("2025-12-02T10:00:00.123456789Z") == T0
    assert parse_timestamp("2025-12-02T12:00:00.123456789+02:00") == T0
    assert parse_time("10s", T0) == "2025-12-02T09:59:50.123456789Z"
    with pytest.raises(ValueError):
        parse_time("yesterday", T0)


def test_tail_since_and_timestamps(tmp_path) -> None:  # noqa: ANN001
    driver = _driver(tmp_path, "k8s-file")
    for n in range(5):
        driver.write("stdout", b"line%d\n" % n, T0 + n * 1_000_000_000)
    driver.close()
    assert _read(tmp_path, "k8s-file", tail=2)[0] == b"line3\nline4\n"
    since = parse_time("2025-12-02T10:00:03Z", 0)  # as `logs` turns --since into the records' format
    assert _read(tmp_path, "k8s-file", since=since)[0] == b"line3\nline4\n"
    until = parse_time("2025-12-02T11:00:01.5+01:00", 0)
    assert _read(tmp_path, "k8s-file", until=until)[0] == b"line0\nline1\n"
    assert _read(tmp_path, "k8s-file", tail=1, timestamps=True)[0] == b"2025-12-02T10:00:04.123456789Z line4\n"


class _Recorder:
    def __init__(self, fail_times: int = 0) -> None:
        self.writes: list[tuple[str, bytes]] = []
        self.fail_times = fail_times

    def write(self, stream: str, data: bytes, time_ns: int) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise OSError(28, "No space left on device")
        self.writes.append((stream, data))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _capture(driver, chunks: list[bytes]) -> tuple[list, int | None]:  # noqa: ANN001
    """Run the capture loop over a pipe fed with ``chunks`` by a child process that then exits 3."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        for chunk in chunks:
            os.write(write_end, chunk)
        os._exit(3)
    os.close(write_end)
    errors: list = []
    status = Capture(driver, [(read_end, "stdout")], pid, errors.append).run()
    return errors, status


def test_capture_passes_whole_lines_and_cuts_long_ones() -> None:
    driver = _Recorder()
    # More than one read's worth without a newline: the line goes out in LINE_LIMIT pieces.
    errors, status = _capture(driver, [b"a\nb", b"c\n", b"x" * (5 * LINE_LIMIT) + b"\nend"])
    assert os.waitstatus_to_exitcode(status) == 3 and errors == []
    data = b"".join(d for _s, d in driver.writes)
    assert data == b"a\nbc\n" + b"x" * (5 * LINE_LIMIT) + b"\nend"
    assert (b"x" * LINE_LIMIT) in [d for _s, d in driver.writes]  # a piece of the long line, a partial
    assert driver.writes[-1] == ("stdout", b"end")  # the last line, without its newline, at EOF


def test_capture_cuts_a_long_line_that_arrives_whole_in_one_read() -> None:
    """A line longer than LINE_LIMIT is cut into partial records whether it spans reads or comes in one: no record
    holds more than LINE_LIMIT bytes of a line (stop 16 wrote a 40 KiB line inside one read as one F record)."""
    driver = _Recorder()
    data = b"short\n" + b"y" * (2 * LINE_LIMIT + 5) + b"\n" + b"z" * LINE_LIMIT + b"\nafter\n"
    errors, _status = _capture(driver, [data])
    assert errors == [] and b"".join(d for _s, d in driver.writes) == data
    assert all(len(line) <= LINE_LIMIT for _s, d in driver.writes for line in d.split(b"\n"))
    assert (b"y" * LINE_LIMIT) in [d for _s, d in driver.writes]


def test_capture_retries_a_failed_write_without_loss() -> None:
    driver = _Recorder(fail_times=2)
    import simcon.monitor.capture as capture

    saved = capture.RETRY_SECONDS
    capture.RETRY_SECONDS = 0.01
    try:
        errors, _status = _capture(driver, [b"one\n", b"two\n"])
    finally:
        capture.RETRY_SECONDS = saved
    assert b"".join(d for _s, d in driver.writes) == b"one\ntwo\n"
    assert errors[0] == "No space left on device" and errors[-1] is None


def _reads(path: str) -> bool:
    """Whether this process holds ``path`` open read-only (the follower thread's fd, not the writer's)."""
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != path:
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                flags = int(info.read().split("flags:")[1].split()[0], 8)
        except (OSError, IndexError, ValueError):
            continue
        if flags & os.O_ACCMODE == os.O_RDONLY:
            return True
    return False


def test_follow_sees_every_rotated_file(tmp_path) -> None:  # noqa: ANN001
    """A follower far behind a writer that rotates many times still gets every line, once, in order."""
    path = str(tmp_path / "c.log")
    driver = _driver(tmp_path, "k8s-file", **{"max-size": "2k", "max-file": "2"})
    seen: list[bytes] = []
    done = threading.Event()

    def follow() -> None:
        read_logs({"driver": "k8s-file", "path": path}, LogQuery(), lambda _s, d: seen.append(d),
                  follow_while=lambda: not done.is_set())

    follower = threading.Thread(target=follow)
    follower.start()
    # Start writing once the follower holds the first file open for reading (its spool exists by then, so from
    # now on every new file is linked for it). A follower that starts while the writer is already rotating
    # through several files in a burst can start at a later file: a known limit of `logs -f`'s start.
    while not _reads(path):
        time.sleep(0.001)
    for n in range(2000):
        driver.write("stdout", b"%05d\n" % n, T0)
    driver.close()
    done.set()
    follower.join()
    assert b"".join(seen) == b"".join(b"%05d\n" % n for n in range(2000))
    assert not any(".follow-" in n for n in os.listdir(tmp_path))  # the spool is removed


@pytest.mark.parametrize("data", [b"plain\nlines\n", b"no newline", b"a\n\nb\ncut", b"\n"])
def test_json_file_fast_path_matches_the_general_one(tmp_path, data: bytes) -> None:  # noqa: ANN001
    """Plain ASCII takes a bytes-only path; its records must be those the per-line encoder writes."""
    driver = _driver(tmp_path, "json-file")
    driver.write("stdout", data, T0)
    driver.close()
    records = [json.loads(line) for line in (tmp_path / "c.log").read_text().splitlines()]
    lines = data.decode().split("\n")
    last = lines.pop()
    expected = [line + "\n" for line in lines] + ([last] if last else [])
    assert [r["log"] for r in records] == expected
    assert all(r["stream"] == "stdout" and r["time"] == "2025-12-02T10:00:00.123456789Z" for r in records)
    assert _read(tmp_path, "json-file") == (data, b"")


def test_journald_entries_on_a_datagram_socket(tmp_path) -> None:  # noqa: ANN001
    """The native protocol as a journal socket receives it: one datagram a line, binary-safe MESSAGE."""
    import socket

    path = str(tmp_path / "journal")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    try:
        driver = open_driver("journald", {"socket": path, "tag": "web"}, LogContext("0123456789abcdef", "web"))
        driver.write("stderr", b"one\ntwo\x00x\nrest", T0)
        driver.close()
        datagrams = [receiver.recv(65536) for _ in range(3)]
    finally:
        receiver.close()
    first = dict(line.split(b"=", 1) for line in datagrams[0].splitlines())
    assert first[b"MESSAGE"] == b"one" and first[b"PRIORITY"] == b"3" and first[b"SYSLOG_IDENTIFIER"] == b"web"
    assert first[b"CONTAINER_ID"] == b"0123456789ab" and first[b"CONTAINER_ID_FULL"] == b"0123456789abcdef"
    assert b"MESSAGE\n\x05\x00\x00\x00\x00\x00\x00\x00two\x00x\n" in datagrams[1]
    assert datagrams[2].endswith(b"MESSAGE=rest\nCONTAINER_PARTIAL_MESSAGE=true\n")


def test_journald_message_with_a_newline_uses_the_length_form() -> None:
    from simcon.monitor.logdrivers.journald import _field

    assert _field(b"MESSAGE", b"a\nb") == b"MESSAGE\n\x03\x00\x00\x00\x00\x00\x00\x00a\nb\n"


@pytest.mark.parametrize("text, expected", [
    ("unix:///dev/log", ("unix", "/dev/log")),
    ("udp://127.0.0.1:514", ("udp", ("127.0.0.1", 514))),
    ("tcp://[::1]:6514", ("tcp", ("::1", 6514))),
])
def test_syslog_addresses(text: str, expected: tuple) -> None:
    from simcon.monitor.logdrivers.syslog import parse_address

    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["dev/log", "udp://host", "tcp://:99", "http://x:1", "udp://h:70000"])
def test_bad_syslog_addresses(text: str) -> None:
    from simcon.monitor.logdrivers.syslog import parse_address

    with pytest.raises(LogOptionError, match="address="):
        parse_address(text)


def test_capture_says_what_it_could_not_write_when_the_target_never_recovers() -> None:
    import simcon.monitor.capture as capture

    driver = _Recorder(fail_times=1000)
    saved = capture.RETRY_SECONDS
    capture.RETRY_SECONDS = 0.01
    try:
        errors, _status = _capture(driver, [b"one\n"])
    finally:
        capture.RETRY_SECONDS = saved
    assert driver.writes == []
    assert errors[-1] == "No space left on device; the monitor exited with 4 bytes of the container's last output unwritten"


def _k8s_lines(first: int, last: int) -> bytes:
    return b"".join(b"2025-12-02T10:00:00.123456789Z stdout F %05d\n" % n for n in range(first, last))


def test_a_gzipped_file_naming_the_current_inode_is_still_older(tmp_path) -> None:  # noqa: ANN001
    """Inode reuse: the file a rotated .gz was made from is unlinked, so the new current file can get its inode.

    The CI run of stop 16 lost every rotated file this way (`logs` printed only the current file's 40 lines)."""
    current = tmp_path / "c.log"
    current.write_bytes(_k8s_lines(20, 30))
    (tmp_path / "c.log.1").write_bytes(_k8s_lines(10, 20))
    reused = os.stat(current).st_ino
    header = b"\x1f\x8b\x08\x10\0\0\0\0\x00\x03" + b"simcon-log-origin-ino=%d\0" % reused
    body = gzip.compress(_k8s_lines(0, 10))[10:]  # the deflate stream and trailer of a header-less member
    (tmp_path / "c.log.2.gz").write_bytes(header + body)
    assert _read(tmp_path, "k8s-file") == (b"".join(b"%05d\n" % n for n in range(30)), b"")


def test_rotated_files_gzipped_by_another_tool_are_read(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "c.log").write_bytes(_k8s_lines(10, 20))
    (tmp_path / "c.log.2.gz").write_bytes(gzip.compress(_k8s_lines(0, 10)))
    assert _read(tmp_path, "k8s-file") == (b"".join(b"%05d\n" % n for n in range(20)), b"")
