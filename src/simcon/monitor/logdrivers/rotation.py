"""A size-bounded log file: records appended whole, rotated by rename and reopen, old files gzipped.

    container.log          the file being written
    container.log.1        the newest rotated file, never compressed (a follower may still be reading it)
    container.log.2.gz ..  older ones, gzipped when `compress` is on, up to max-file files in all

Rotation renames; it never truncates or copies, so a line is never split across files (a record is written in
the file it starts in, whole, even when it alone is larger than max-size), never lost, never written twice.

Followers (`simcon logs -f`, see ``runtime.logs``) each make a spool directory ``container.log.follow-<pid>``
next to the file; every new file is hard-linked into each spool as it is created (``0000000001``, ...), so a
follower gets every file in order however far behind it is, even after rotation removed the file's own name
(it unlinks a spool entry once it holds it open). The spool of a follower that is gone is removed here.
"""

from __future__ import annotations

import posix  # not `os`: the monitor stays small (see monitor.capture)

FOLLOW_SUFFIX = ".follow-"
_COMPRESS_CHUNK = 1 << 20


class FileTarget:
    """Append-only writer of whole records (each ends in b"\\n") with rotation; resumable after OSError."""

    def __init__(self, path: str, max_size: int, max_files: int, compress: bool, mode: int = 0o640) -> None:
        self.path = path
        self.max_size = max_size  # 0: never rotate
        self.max_files = max_files  # the current file included, as docker counts
        self.compress = compress
        self.mode = mode
        self._fd = -1
        self._size = 0
        self._pending = b""  # formatted records not yet written (only after a failed write)
        self._rotate_due = False
        self._generation = 0  # names the files in the followers' spools, in order
        _makedirs(self.path.rpartition("/")[0] or ".", 0o700)
        self._open()

    def _open(self) -> None:
        fd = posix.open(self.path, posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT | posix.O_CLOEXEC, self.mode)
        self._fd = fd
        self._size = posix.fstat(fd).st_size
        self._generation += 1
        self._link_for_followers()

    def _link_for_followers(self) -> None:
        directory, _, base = self.path.rpartition("/")
        prefix = base + FOLLOW_SUFFIX
        try:
            names = [n for n in posix.listdir(directory or ".") if n.startswith(prefix)]
        except OSError:
            return
        for name in names:
            spool = f"{directory}/{name}"
            pid = name[len(prefix):]
            if not pid.isdigit() or not _exists(f"/proc/{pid}"):
                _remove_spool(spool)  # its follower is gone
                continue
            try:
                posix.link(self.path, f"{spool}/{self._generation:010d}")
            except OSError:
                pass  # the follower removed its spool meanwhile

    def write(self, records: bytes) -> None:
        """Write ``records``; on OSError the rest is kept and written first by the next call (``retry``)."""
        if self._pending:
            self._pending += records  # only happens if a caller ignores the error; still nothing is lost
        else:
            self._pending = records
        self.retry()

    def retry(self) -> None:
        while True:
            data = self._pending
            if not data:
                return  # a rotation that is due waits for the next record: no empty files
            if self._rotate_due:
                self._rotate()
                self._rotate_due = False
            if self._fd < 0:
                self._open()
            cut = len(data)
            if self.max_size:
                room = self.max_size - self._size
                if cut > room:
                    cut = data.rfind(b"\n", 0, room) + 1
                    if cut == 0:
                        if self._size:  # the next record does not fit: it starts the next file
                            self._rotate_due = True
                            continue
                        cut = data.find(b"\n") + 1 or len(data)  # a record larger than max-size, alone
            view = memoryview(data)
            done = 0
            try:
                while done < cut:
                    done += posix.write(self._fd, view[done:cut])
            finally:
                self._size += done
                self._pending = data[done:]
            if self.max_size and self._size >= self.max_size:
                self._rotate_due = True

    @property
    def pending(self) -> bool:
        return bool(self._pending) or self._rotate_due

    def rotate(self) -> None:
        if self._size:
            self._rotate()
            self._rotate_due = False

    def _rotate(self) -> None:
        """Shift the rotated files up by one and start a new file; each step is safe to repeat after a failure."""
        if self.max_files <= 1:
            # Only one file allowed: the full file goes away (a follower holding it still reads it to the end).
            posix.unlink(self.path)
        else:
            oldest = self.max_files - 1
            for name in (self._name(oldest, True), self._name(oldest, False)):
                _unlink_quietly(name)
            for n in range(oldest - 1, 1, -1):
                for compressed in (True, False):
                    if _exists(self._name(n, compressed)):
                        posix.rename(self._name(n, compressed), self._name(n + 1, compressed))
            newest = self._name(1, False)
            if oldest >= 2 and _exists(newest):
                if self.compress:
                    gzip_file(newest, self._name(2, True))
                    posix.unlink(newest)
                else:
                    posix.rename(newest, self._name(2, False))
            posix.rename(self.path, newest)
        posix.close(self._fd)
        self._fd = -1
        self._open()

    def _name(self, n: int, compressed: bool) -> str:
        return f"{self.path}.{n}.gz" if compressed else f"{self.path}.{n}"

    def close(self) -> None:
        if self._fd >= 0:
            posix.close(self._fd)
            self._fd = -1


def _remove_spool(spool: str) -> None:
    try:
        for name in posix.listdir(spool):
            _unlink_quietly(f"{spool}/{name}")
        posix.rmdir(spool)
    except OSError:
        pass


def _exists(path: str) -> bool:
    try:
        posix.stat(path)
    except FileNotFoundError:
        return False
    return True


def _makedirs(path: str, mode: int) -> None:
    if _exists(path):
        return
    parent = path.rpartition("/")[0]
    if parent:
        _makedirs(parent, mode)
    try:
        posix.mkdir(path, mode)
    except FileExistsError:
        pass


def _unlink_quietly(path: str) -> None:
    try:
        posix.unlink(path)
    except FileNotFoundError:
        pass


def gzip_file(source: str, target: str) -> None:
    """gzip ``source`` into ``target`` (tmp + rename)."""
    import struct
    import zlib

    tmp = target + ".tmp"
    src = posix.open(source, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        out = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC, 0o640)
        try:
            # gzip member header (RFC 1952): magic, deflate, no flags, mtime 0, no extra flags, OS unix.
            header = b"\x1f\x8b\x08\x00" + b"\0\0\0\0" + b"\x00\x03"
            _write_all(out, header)
            deflate = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
            crc = 0
            size = 0
            while True:
                chunk = posix.read(src, _COMPRESS_CHUNK)
                if not chunk:
                    break
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
                _write_all(out, deflate.compress(chunk))
            _write_all(out, deflate.flush() + struct.pack("<II", crc, size & 0xFFFFFFFF))
        except BaseException:
            posix.close(out)
            _unlink_quietly(tmp)
            raise
        posix.close(out)
    finally:
        posix.close(src)
    posix.rename(tmp, target)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[posix.write(fd, view):]
