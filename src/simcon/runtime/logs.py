"""`simcon logs`: read a container's log files back (rotated and gzipped ones in order), and follow them.

Files, oldest first: ``container.log.N.gz`` ... ``container.log.2.gz``, ``container.log.1``, ``container.log``
(see ``monitor.logdrivers.rotation``). Records are parsed by the driver's format and partial records joined, so
what comes out is exactly the bytes the container wrote, per stream.

Reading starts by holding the current file open and listing the rotated files with it (again, if a rotation
came between the listing and the open: the held inode tells). Following across rotations: the follower holds the
file it reads; at its end it waits, until the monitor's spool (see ``_Follower``) shows the file that came next;
the file it holds is complete by then (the monitor renames only after its last write to it), so it reads that to
the end and moves on.
"""

from __future__ import annotations

import os
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator

from simcon.errors import SimconError

FOLLOW_POLL = 0.05
READ_SIZE = 1 << 20

Entry = tuple[str, str, bytes, bool]  # (time, stream, content, ends a line)


STAMP_LENGTH = 30  # `2026-12-02T10:00:00.123456789Z`: SimCon's monitor always writes all nine digits


def _fast_content(blob: bytes) -> tuple[str, bytes] | None:
    """k8s-file records all of one stream, with SimCon's fixed-width stamps -> (stream, their content), cut by
    slicing; None when the records are mixed (or another writer's), for the general parser."""
    lines = blob.split(b"\n")
    lines.pop()  # blob ends with a newline
    if not lines:
        return None
    kinds = {line[STAMP_LENGTH - 1:STAMP_LENGTH + 10] for line in lines}
    start = STAMP_LENGTH + 10
    for stream in ("stdout", "stderr"):
        full = f"Z {stream} F ".encode()
        if kinds == {full}:
            return stream, b"\n".join([line[start:] for line in lines]) + b"\n"
        if kinds <= {full, f"Z {stream} P ".encode()}:
            return stream, b"".join([line[start:] + b"\n" if line[STAMP_LENGTH + 8] == 70 else line[start:]
                                     for line in lines])  # 70: ord("F")
    return None


class LogQuery:
    __slots__ = ("tail", "since", "until", "timestamps", "streams")

    def __init__(self, tail: int | None = None, since: str | None = None, until: str | None = None,
                 timestamps: bool = False, streams: tuple[str, ...] = ("stdout", "stderr")) -> None:
        self.tail = tail
        self.since = since  # RFC 3339 as the records carry it (UTC, 9 digits): compared as text
        self.until = until
        self.timestamps = timestamps
        self.streams = streams


def rotated_files(path: str) -> list[str]:
    """The rotated files of ``path``, oldest first (highest number first)."""
    directory, base = os.path.split(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    numbered = []
    for name in names:
        if not name.startswith(base + "."):
            continue
        number = name[len(base) + 1:].removesuffix(".gz")
        if number.isdigit():
            numbered.append((int(number), os.path.join(directory, name)))
    return [name for _n, name in sorted(numbered, reverse=True)]


def _file_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        return zlib.decompress(data, 31)
    return data


def _records(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


class Printer:
    """Joins partial records per stream and writes lines to the caller's outputs, with the query's filters."""

    def __init__(self, query: LogQuery, parse: Callable[[bytes], Entry], out: Callable[[str, bytes], None]) -> None:
        self.query = query
        self.parse = parse
        self.out = out
        self.pending: dict[str, tuple[str, list[bytes]]] = {}
        self.bad_records = 0

    def lines(self, records: list[bytes]) -> Iterator[tuple[str, str, bytes]]:
        """(time of the line's first record, stream, the line's bytes) for each complete line in ``records``."""
        for record in records:
            try:
                stamp, stream, content, full = self.parse(record)
            except ValueError:
                self.bad_records += 1
                continue
            started = self.pending.get(stream)
            if started is not None:
                started[1].append(content)
                if full:
                    del self.pending[stream]
                    yield started[0], stream, b"".join(started[1])
            elif full:
                yield stamp, stream, content
            else:
                self.pending[stream] = (stamp, [content])

    def unfinished(self) -> Iterator[tuple[str, str, bytes]]:
        """Lines whose end never came (the container's last output had no newline)."""
        for stream, (stamp, parts) in sorted(self.pending.items()):
            yield stamp, stream, b"".join(parts)
        self.pending.clear()

    def wanted(self, stamp: str, stream: str) -> bool:
        q = self.query
        return stream in q.streams and (q.since is None or stamp >= q.since) and (q.until is None or stamp <= q.until)

    def emit(self, stamp: str, stream: str, data: bytes) -> None:
        if self.query.timestamps:
            data = stamp.encode() + b" " + data
        self.out(stream, data)


def read_logs(log: dict, query: LogQuery, out: Callable[[str, bytes], None], *,
              follow_while: Callable[[], bool] | None = None, warn: Callable[[str], None] = lambda _m: None,
              flush: Callable[[], None] = lambda: None) -> None:
    """Print the logs of a container whose state says ``log``; with ``follow_while``, keep following the
    current file until it returns False (the container and its monitor are gone) and everything is read."""
    from simcon.monitor.logdrivers.files import PARSERS

    driver = log.get("driver")
    parse = PARSERS.get(driver)
    if parse is None:
        raise SimconError(f"`logs` reads only the file drivers (k8s-file, json-file); this container logs to "
                          f"`{driver}`: read it there (journalctl, the syslog receiver)")
    path = log["path"]
    printer = Printer(query, parse, out)
    tail = deque(maxlen=query.tail) if query.tail is not None else None

    fast = driver == "k8s-file" and tail is None and query.since is None and query.until is None \
        and not query.timestamps

    def take(blob: bytes) -> None:
        """Print the lines of ``blob`` (whole records)."""
        if fast and not printer.pending:
            # The common case, one stream at full speed: the records' fixed-width prefixes sliced off in bulk
            # instead of a parse per record, so a follower keeps up with a container writing as fast as the
            # monitor can log.
            found = _fast_content(blob)
            if found is not None:
                if found[0] in query.streams:
                    out(*found)
                return
        records = _records(blob)
        for stamp, stream, data in printer.lines(records):
            if printer.wanted(stamp, stream):
                if tail is not None:
                    tail.append((stamp, stream, data))
                else:
                    printer.emit(stamp, stream, data)

    # The current file is held first: the rotated files read next are those older than it.
    follower = _Follower(path, warn, follow=follow_while is not None)
    try:
        for name in follower.older_files():
            try:
                take(_file_bytes(name))
            except FileNotFoundError:
                continue  # rotated away while we read the newer ones: its lines are gone
            except (OSError, zlib.error) as exc:
                warn(f"cannot read {name}: {exc}")
        _read_all(follower, take)
        if tail is not None:
            if follow_while is None:
                tail.extend((s, st, d) for s, st, d in printer.unfinished() if printer.wanted(s, st))
            for entry in tail:
                printer.emit(*entry)
            tail = None
        if follow_while is not None:
            while True:
                if _read_all(follower, take):
                    continue
                flush()
                if not follow_while():
                    _read_all(follower, take)  # what came between the last read and the check
                    break
                time.sleep(FOLLOW_POLL)
    finally:
        follower.close()
    for stamp, stream, data in printer.unfinished():
        if printer.wanted(stamp, stream):
            printer.emit(stamp, stream, data)
    if printer.bad_records:
        warn(f"{printer.bad_records} malformed records in {path} skipped")


def _read_all(follower: _Follower, take: Callable[[bytes], None]) -> bool:
    """Print what is there now, in rounds of bounded size; whether there was anything."""
    found = False
    while True:
        blob = follower.read_available()
        if not blob:
            return found
        found = True
        take(blob)


class _Follower:
    """Reads the current log file in bounded rounds and, when following, every file after it in order.

    Following uses a spool directory (``rotation``): the monitor hard-links each new file into it as it creates
    it, so however far behind we are, the next file is the oldest spool entry, and a file rotation removed is
    still there. A spool entry is unlinked as soon as we hold it open. The file held when we start may itself
    show up in the spool (it was created between our making the spool and opening it): that entry is skipped.
    """

    def __init__(self, path: str, warn: Callable[[str], None], follow: bool = False) -> None:
        self.path = path
        self.warn = warn
        self.fd = -1
        self.ino = 0
        self.partial = b""
        self.older: list[str] = []
        self.spool = None
        if follow:
            from simcon.monitor.logdrivers.rotation import FOLLOW_SUFFIX

            self.spool = f"{path}{FOLLOW_SUFFIX}{os.getpid()}"
            _remove_spool(self.spool)  # a dead follower's with our pid
            # Right after `run -d` the monitor may not have made the log directory yet: give it a moment.
            for attempt in range(50):
                if os.path.isdir(os.path.dirname(self.spool)):
                    break
                time.sleep(0.002 * attempt)
            os.mkdir(self.spool, 0o700)
        # Hold the current file, and take as older every rotated file listed together with it. A rotation
        # between the listing and the open shows as a held inode other than the listed one: list again.
        for attempt in range(50):
            chain = self._chain()
            if chain is None:
                time.sleep(0.001 * attempt)  # a rotation is under way: it takes a few renames
                continue
            *older, (name, listed_ino) = chain
            if listed_ino:
                try:
                    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    continue
                if os.fstat(fd).st_ino != listed_ino:
                    os.close(fd)
                    continue
                self.fd, self.ino = fd, listed_ino
            self.older = [entry_name for entry_name, _ino in older]
            return
        warn(f"{path} kept being rotated while `logs` started: its older files are left out")

    def older_files(self) -> list[str]:
        return self.older

    def _chain(self) -> list[tuple[str, int]] | None:
        """(name, inode) oldest first, the current file last (inode 0: there is none); None: raced a rotation.

        Inodes, not names, tie the listing to the file then held. (A gzipped file cannot say by inode which file
        it was made from: that file is unlinked after compression, and the new current file can get its inode.)
        """
        chain = []
        for name in rotated_files(self.path):
            try:
                chain.append((name, os.stat(name).st_ino))
            except FileNotFoundError:
                return None  # renamed or removed since the listing
        try:
            chain.append((self.path, os.stat(self.path).st_ino))
        except FileNotFoundError:
            chain.append((self.path, 0))
        return chain

    def read_available(self) -> bytes:
        data = _read_to_end(self.fd) if self.fd >= 0 else b""
        while not data and self.spool is not None:
            switched, data = self._next_file()
            if not switched:
                break
            if not data:
                data = _read_to_end(self.fd)
        if not data:
            return b""
        data = self.partial + data
        cut = data.rfind(b"\n") + 1
        self.partial = data[cut:]
        return data[:cut]

    def _next_file(self) -> tuple[bool, bytes]:
        """If a newer file exists: hold it, and return (True, the rest of the file held so far, complete now)."""
        try:
            entries = sorted(os.listdir(self.spool))
        except OSError as exc:
            raise SimconError(f"logs: cannot read the follow spool {self.spool}: {exc.strerror}") from None
        for entry in entries:
            path = os.path.join(self.spool, entry)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            os.unlink(path)
            ino = os.fstat(fd).st_ino
            if ino == self.ino:
                os.close(fd)  # the file we hold already (created just before we opened it)
                continue
            rest = [_read_to_end(self.fd)] if self.fd >= 0 else []
            while rest and rest[-1]:
                rest.append(_read_to_end(self.fd))
            if self.fd >= 0:
                os.close(self.fd)
            self.fd, self.ino = fd, ino
            return True, b"".join(rest)
        return False, b""

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.spool is not None:
            _remove_spool(self.spool)
            self.spool = None


def _remove_spool(spool: str) -> None:
    try:
        for name in os.listdir(spool):
            os.unlink(os.path.join(spool, name))
        os.rmdir(spool)
    except FileNotFoundError:
        pass


def _read_to_end(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, READ_SIZE)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        if len(chunks) >= 4:
            return b"".join(chunks)  # enough for one round; the rest at the next read


def logs_of(store, container_id: str) -> tuple[dict, Callable[[], bool]]:  # noqa: ANN001
    """The log settings of a container, and a check whether more may still come (for --follow).

    A container deleted with `delete --keep-logs` has no state any more: its default files are still found."""
    from simcon.errors import ContainerNotFoundError
    from simcon.linux import procfs
    from simcon.runtime import status as st
    from simcon.runtime.log_files import default_log_path
    from simcon.runtime.state import validate_id

    validate_id(container_id)
    try:
        state = store.read_unlocked(container_id)
    except ContainerNotFoundError:
        path = default_log_path(store.root, container_id)
        if not os.path.exists(path) and not rotated_files(path):
            raise
        return {"driver": _sniff_format(path), "path": path}, lambda: False
    if state.log is None or state.log.get("driver") == "passthrough":
        raise SimconError("this container's output is not captured (created without a log driver: see "
                          "--log-driver)", container_id=container_id)

    def more_may_come() -> bool:
        try:
            current = store.read_unlocked(container_id)
        except SimconError:
            return False
        if st.derive_status(current, store.container_dir(container_id)) != st.STOPPED:
            return True
        # Stopped: the monitor still writes what the container's last output was, then exits.
        return procfs.is_alive(current.monitor_pid, current.monitor_start_time)

    return state.log, more_may_come


def _sniff_format(path: str) -> str:
    for name in [path, *reversed(rotated_files(path))]:
        try:
            if name.endswith(".gz"):
                head = _file_bytes(name)[:1]
            else:
                with open(name, "rb") as f:
                    head = f.read(1)
        except (OSError, zlib.error):
            continue
        if head:
            return "json-file" if head == b"{" else "k8s-file"
    return "k8s-file"


def parse_time(text: str, now_ns: int) -> str:
    """--since/--until: RFC 3339, or a duration back from now (`10m`, `1h30m`, `45s`, `2d`) -> the records'
    time format, so that times compare as text. ValueError names the value."""
    from simcon.monitor.logdrivers.base import Timestamps, parse_timestamp

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value = text.strip()
    problem = f"{text!r}: expected an RFC 3339 time (2026-12-02T10:00:00Z) or a duration like 10m or 1h30m"
    if value and value[-1] in units:
        total = 0.0
        number = ""
        for char in value:
            if char.isdigit() or char == ".":
                number += char
            elif char in units and number:
                total += float(number) * units[char]
                number = ""
            else:
                raise ValueError(problem)
        return Timestamps().format(now_ns - int(total * 1_000_000_000))
    try:
        return Timestamps().format(parse_timestamp(value))
    except ValueError:
        raise ValueError(problem) from None
