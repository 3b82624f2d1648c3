"""A cache of compiled seccomp filters, so a container with a known profile pays no libseccomp compile.

Compiling podman's default profile with libseccomp takes 10-20 ms of every `create` (and loads libseccomp); the
result depends only on the profile and on the compiler: libseccomp's version, the kernel (which syscall numbers
and actions exist), the architecture and SimCon's own compiling code. The key is a SHA-256 over all of them, so a
changed profile, an upgraded libseccomp or kernel, or an edited compiler never reads an old entry.

Entries live in ``/var/cache/simcon/seccomp`` for root, ``$XDG_CACHE_HOME/simcon/seccomp`` (``~/.cache``) for
other users, or ``$SIMCON_CACHE_DIR/seccomp``. An entry is never trusted as it is found: it is used only when the
directory and the file belong to us and nobody else may write them, the magic and the key inside match, the
payload's checksum holds and the program is a whole number of BPF instructions; anything else counts as a miss,
and the filter is compiled and the entry replaced. Writers never collide: each writes a temp file of its own in
the directory and renames it over the entry (atomic), so a reader sees the old entry, the new one, or none.
A cache that cannot be used (read-only, full, wrong owner) only costs the compile; it never fails a `create`.
"""

from __future__ import annotations

import os
import stat
import struct

try:  # CPython's builtin SHA-256: hashlib would load OpenSSL, 10-35 ms of import on these machines
    from _sha256 import sha256
except ImportError:  # Python 3.12+ names it _sha2; any other Python pays for hashlib
    try:
        from _sha2 import sha256
    except ImportError:
        from hashlib import sha256

MAGIC = b"simcon-seccomp-cache-1\n"
_HEADER = "<32s32sI"  # key, SHA-256 of the payload, number of skipped names
_MAX_PROGRAM = 4096 * 8  # BPF_MAXINSNS instructions of 8 bytes: the kernel refuses anything longer


def cache_dir() -> str:
    """Where the entries live for this user (see the module docstring)."""
    base = os.environ.get("SIMCON_CACHE_DIR")
    if not base:
        if os.geteuid() == 0:
            base = "/var/cache/simcon"
        else:
            base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
            base = os.path.join(base, "simcon")
    return os.path.join(base, "seccomp")


def make_key(profile: bytes, compiler: bytes) -> bytes:
    """The entry's key: the profile as compiled (a canonical encoding) and what the compiler is (versions)."""
    digest = sha256()
    for part in (MAGIC, compiler, profile):
        digest.update(struct.pack("<Q", len(part)))
        digest.update(part)
    return digest.digest()


def _entry_path(directory: str, key: bytes) -> str:
    return os.path.join(directory, key.hex() + ".bpf")


def _ours(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def load(key: bytes, directory: str | None = None) -> tuple[bytes, list[str]] | None:
    """(program, skipped syscall names) of a valid entry for ``key``; None for a miss or anything doubtful."""
    directory = directory or cache_dir()
    try:
        if not _ours(os.stat(directory)):
            return None
        fd = os.open(_entry_path(directory, key), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _ours(st) or st.st_size > 1 << 20:
            return None
        data = os.read(fd, st.st_size + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return _decode(data, key)


def _decode(data: bytes, key: bytes) -> tuple[bytes, list[str]] | None:
    size = len(MAGIC) + struct.calcsize(_HEADER)
    if len(data) < size or not data.startswith(MAGIC):
        return None
    stored_key, checksum, count = struct.unpack_from(_HEADER, data, len(MAGIC))
    payload = data[size:]
    if stored_key != key or sha256(payload).digest() != checksum:
        return None
    parts = payload.split(b"\0", count)
    if len(parts) != count + 1:
        return None
    program = parts[-1]
    if not program or len(program) % 8 or len(program) > _MAX_PROGRAM:
        return None
    try:
        skipped = [name.decode() for name in parts[:-1]]
    except UnicodeDecodeError:
        return None
    return program, skipped


def encode(key: bytes, program: bytes, skipped: list[str]) -> bytes:
    payload = b"".join(name.encode() + b"\0" for name in skipped) + program
    return MAGIC + struct.pack(_HEADER, key, sha256(payload).digest(), len(skipped)) + payload


def store(key: bytes, program: bytes, skipped: list[str], directory: str | None = None) -> bool:
    """Write the entry (temp file + rename); False when the cache cannot be used, which is not an error."""
    directory = directory or cache_dir()
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not _ours(os.stat(directory)):
            return False
        tmp = os.path.join(directory, f".tmp-{os.getpid()}-{os.urandom(4).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(encode(key, program, skipped))
        os.rename(tmp, _entry_path(directory, key))
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True
