"""The monitor's capture loop: the container's stdout and stderr (pipes, or a pty master) into a log driver.

One thread, one ``poll``: the pipes, and a pidfd of the container's init, which becomes readable when it exits.

- **Back-pressure, bounded memory.** Each read takes at most ``READ_SIZE`` bytes and is written out before the
  next read. A container writing faster than the log target blocks on its full pipe; nothing queues up here.
- **Lines.** A line is passed on once it is complete. A partial line is held (at most ``LINE_LIMIT`` bytes per
  stream); past that, or after ``PARTIAL_WAIT`` seconds without its end (a prompt), it goes out as a partial
  record and its rest follows.
- **Target errors.** When the driver raises ``OSError`` (disk full, journal gone), the loop stops reading the
  pipes (so the container blocks rather than loses output), reports the error through ``on_error``, retries
  the same write every ``RETRY_SECONDS`` and reports recovery with ``on_error(None)``. The init is still reaped.
- **Orphans.** The monitor is a child subreaper: every child is reaped as it comes, the init's status is kept.

Runs in the monitor's bare interpreter: the built-in modules ``posix``, ``select`` and ``time`` only (``os``,
which would import ``_collections_abc`` and friends, costs each monitor about 0.5 MB).
"""

from __future__ import annotations

import posix  # not `os`: it would import _collections_abc & co., about 0.5 MB more for every monitor
import select
import time

READ_SIZE = 1 << 16
LINE_LIMIT = 16 << 10  # as docker's and conmon's buffers: longer lines are cut into partial records
PARTIAL_WAIT = 0.2
RETRY_SECONDS = 1.0
IDLE_SECONDS = 1.0  # how often orphans are reaped when nothing else happens
DRAIN_SECONDS = 1.0  # after the init exited: how long to wait for the rest of the output (escaped writers)
PIPE_SIZE = 1 << 20


class Stream:
    __slots__ = ("fd", "name", "pending", "since")

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name
        self.pending = b""  # the start of a line whose end has not come yet
        self.since = 0.0


class Capture:
    def __init__(self, driver, streams: list[tuple[int, str]], init_pid: int, on_error,  # noqa: ANN001
                 on_exit=None) -> None:  # noqa: ANN001
        self.driver = driver
        self.on_exit = on_exit  # called with the init's wait status as soon as it is reaped (output may follow)
        self.streams = {fd: Stream(fd, name) for fd, name in streams}
        self.init_pid = init_pid
        self.on_error = on_error
        self.init_status: int | None = None
        self.init_gone = False
        self.failed: list[tuple[str, bytes, int]] = []  # writes to retry, in order (reading pauses meanwhile)
        self.last_error = ""
        self.poller = select.poll()
        for fd in self.streams:
            _grow_pipe(fd)
            self.poller.register(fd, select.POLLIN)
        try:
            self.pidfd = posix.pidfd_open(init_pid)
            self.poller.register(self.pidfd, select.POLLIN)
        except OSError:  # already gone (or no pidfd): reaping finds out
            self.pidfd = -1

    def run(self) -> int | None:
        """Capture until the init has exited and its output is drained; the init's wait status (None: unknown)."""
        drain_until = None
        while True:
            if self.failed:
                self._retry()
            timeout = self._timeout(drain_until)
            events = self.poller.poll(timeout)
            now = time.monotonic()
            for fd, _mask in events:
                if fd == self.pidfd:
                    self.poller.unregister(fd)
                    posix.close(fd)
                    self.pidfd = -1
                    self._reap()
                elif fd in self.streams and not self.failed:
                    self._read(self.streams[fd], now)
            self._reap()
            self._flush_partials(now)
            if self.init_gone:
                if not self.streams or (drain_until is not None and now >= drain_until and not events):
                    break
                if drain_until is None or events:
                    drain_until = now + DRAIN_SECONDS
        for stream in list(self.streams.values()):
            self._close(stream)
        self._finish_writes()
        return self.init_status

    def _timeout(self, drain_until: float | None) -> int:
        wait = IDLE_SECONDS
        if self.failed:
            wait = RETRY_SECONDS
        elif any(s.pending for s in self.streams.values()):
            wait = PARTIAL_WAIT
        if drain_until is not None:
            wait = min(wait, max(0.0, drain_until - time.monotonic()))
        return int(wait * 1000)

    def _read(self, stream: Stream, now: float) -> None:
        try:
            data = posix.read(stream.fd, READ_SIZE)
        except OSError:  # EIO from a pty master: every holder of the slave closed it
            data = b""
        if not data:
            self._close(stream)
            return
        buffered = stream.pending + data if stream.pending else data
        cut = buffered.rfind(b"\n") + 1
        if cut:
            self._write_lines(stream.name, buffered[:cut] if cut < len(buffered) else buffered)
        # A line longer than the buffer goes out in LINE_LIMIT pieces, as partial records; its rest waits.
        while len(buffered) - cut >= LINE_LIMIT:
            self._write(stream.name, buffered[cut:cut + LINE_LIMIT])
            cut += LINE_LIMIT
        had_pending = bool(stream.pending)
        stream.pending = buffered[cut:]
        if not stream.pending:
            stream.since = 0.0
        elif not had_pending or cut:
            stream.since = now  # a new partial line starts waiting for its end

    def _write_lines(self, name: str, data: bytes) -> None:
        """Whole lines out; one of LINE_LIMIT bytes or more is cut into LINE_LIMIT pieces (partial records), the
        same whether it came in one read or over several.

        Each ``rfind`` looks at a window of LINE_LIMIT bytes: a newline in it means every line up to that point is
        short, so the common case costs a few searches per read, not one per line."""
        end = len(data)
        if end <= LINE_LIMIT:
            self._write(name, data)
            return
        written = pos = 0  # written: what has gone out; pos: the start of a line not known to be short
        while pos < end:
            newline = data.rfind(b"\n", pos, pos + LINE_LIMIT)
            if newline >= 0:
                pos = newline + 1
                continue
            if pos > written:
                self._write(name, data[written:pos])
            while data.find(b"\n", pos, pos + LINE_LIMIT) < 0:  # ends in a newline: the loop ends
                self._write(name, data[pos:pos + LINE_LIMIT])
                pos += LINE_LIMIT
            written = pos
        if written < end:
            self._write(name, data[written:])

    def _flush_partials(self, now: float) -> None:
        for stream in self.streams.values():
            if stream.pending and not self.failed and now - stream.since >= PARTIAL_WAIT:
                data, stream.pending, stream.since = stream.pending, b"", 0.0
                self._write(stream.name, data)

    def _close(self, stream: Stream) -> None:
        del self.streams[stream.fd]
        if not self.failed:
            self.poller.unregister(stream.fd)
        posix.close(stream.fd)
        if stream.pending:
            data, stream.pending = stream.pending, b""
            self._write(stream.name, data)

    def _write(self, name: str, data: bytes) -> None:
        stamp = time.time_ns()
        if self.failed:
            self.failed.append((name, data, stamp))  # behind the write that waits for its retry: keep order
            return
        try:
            self.driver.write(name, data, stamp)
        except OSError as exc:
            self.failed.append((name, data, stamp))
            self._pause_reading()
            self.last_error = _describe(exc)
            self.on_error(self.last_error)

    def _retry(self) -> None:
        while self.failed:
            name, data, stamp = self.failed[0]
            try:
                self.driver.write(name, data, stamp)
            except OSError as exc:
                self.last_error = _describe(exc)
                self.on_error(self.last_error)
                return
            del self.failed[0]
        self._resume_reading()
        self.on_error(None)

    def _pause_reading(self) -> None:
        """Stop polling the pipes: the container blocks on them until the target takes data again."""
        for fd in self.streams:
            self.poller.unregister(fd)

    def _resume_reading(self) -> None:
        for fd in self.streams:
            self.poller.register(fd, select.POLLIN)

    def _finish_writes(self) -> None:
        """Before exiting: writes that failed get a few more tries, then the driver is flushed and closed."""
        for _ in range(5):
            if not self.failed:
                break
            time.sleep(RETRY_SECONDS)
            self._retry()
        if self.failed:
            # The container is gone and the target still refuses: say exactly what could not be written.
            lost = sum(len(data) for _name, data, _stamp in self.failed)
            self.on_error(f"{self.last_error}; the monitor exited with {lost} bytes of the container's last output "
                          "unwritten")
        try:
            self.driver.flush()
            self.driver.close()
        except OSError as exc:
            self.on_error(_describe(exc))

    def _reap(self) -> None:
        while True:
            try:
                pid, status = posix.waitpid(-1, posix.WNOHANG)
            except ChildProcessError:
                self.init_gone = True  # no child at all: the init is not ours (or long gone)
                return
            if pid == 0:
                return
            if pid == self.init_pid:
                self.init_status = status
                self.init_gone = True
                if self.on_exit is not None:
                    self.on_exit(status)


def _grow_pipe(fd: int) -> None:
    """A larger pipe means fewer wake-ups per megabyte; the kernel caps it (pipe-max-size), which is fine."""
    import fcntl

    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass  # a pty master, or over the user's pipe quota: the default size works too


def _describe(exc: OSError) -> str:
    where = f" `{exc.filename}`" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"
