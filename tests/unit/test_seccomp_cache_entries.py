"""The compiled-filter cache: entries round-trip; anything corrupt, foreign or doubtful is a miss; concurrent
writers leave one valid entry and no temp files."""

from __future__ import annotations

import os

import pytest

from simcon.runtime import seccomp_cache as cache

KEY = cache.make_key(b"profile", b"libseccomp 2.5.4")
PROGRAM = bytes(range(8)) * 5  # five 8-byte instructions
SKIPPED = ["no_such_call", "another"]


@pytest.fixture
def directory(tmp_path):
    path = tmp_path / "seccomp"
    path.mkdir(mode=0o700)
    return str(path)


def entry(directory: str) -> str:
    (name,) = [n for n in os.listdir(directory) if n.endswith(".bpf")]
    return os.path.join(directory, name)


def test_stored_entry_loads_back(directory) -> None:
    assert cache.load(KEY, directory) is None
    assert cache.store(KEY, PROGRAM, SKIPPED, directory)
    assert cache.load(KEY, directory) == (PROGRAM, SKIPPED)
    assert oct(os.stat(entry(directory)).st_mode & 0o777) == "0o600"


def test_key_covers_profile_and_compiler() -> None:
    assert cache.make_key(b"profile", b"libseccomp 2.5.5") != KEY
    assert cache.make_key(b"profile2", b"libseccomp 2.5.4") != KEY
    # The parts are length-prefixed: moving bytes between them changes the key.
    assert cache.make_key(b"ab", b"c") != cache.make_key(b"a", b"bc")


def test_store_creates_the_directory_private(tmp_path) -> None:
    directory = str(tmp_path / "a" / "seccomp")
    assert cache.store(KEY, PROGRAM, [], directory)
    assert oct(os.stat(directory).st_mode & 0o777) == "0o700"
    assert cache.load(KEY, directory) == (PROGRAM, [])


@pytest.mark.parametrize("damage", ["flip a program byte", "truncate", "append", "magic", "empty", "other key"])
def test_a_corrupt_entry_is_a_miss_and_is_replaced(directory, damage: str) -> None:
    cache.store(KEY, PROGRAM, SKIPPED, directory)
    path = entry(directory)
    data = bytearray(open(path, "rb").read())
    if damage == "flip a program byte":
        data[-3] ^= 0xFF
    elif damage == "truncate":
        data = data[:-4]
    elif damage == "append":
        data += b"\0" * 8
    elif damage == "magic":
        data[0] ^= 1
    elif damage == "empty":
        data = bytearray()
    else:  # a whole valid entry of another key, under this key's name
        data = bytearray(cache.encode(cache.make_key(b"x", b"y"), PROGRAM, []))
    with open(path, "wb") as f:
        f.write(data)
    assert cache.load(KEY, directory) is None
    assert cache.store(KEY, PROGRAM, SKIPPED, directory)  # what create does on a miss
    assert cache.load(KEY, directory) == (PROGRAM, SKIPPED)


def test_program_must_be_whole_instructions(directory) -> None:
    cache.store(KEY, PROGRAM[:-1], [], directory)
    assert cache.load(KEY, directory) is None


def test_entries_others_may_write_are_not_trusted(directory) -> None:
    cache.store(KEY, PROGRAM, [], directory)
    os.chmod(entry(directory), 0o666)
    assert cache.load(KEY, directory) is None
    os.chmod(entry(directory), 0o600)
    os.chmod(directory, 0o777)
    assert cache.load(KEY, directory) is None
    assert not cache.store(KEY, PROGRAM, [], directory)


def test_a_symlinked_entry_is_not_followed(directory, tmp_path) -> None:
    cache.store(KEY, PROGRAM, [], directory)
    path = entry(directory)
    os.rename(path, tmp_path / "real")
    os.symlink(tmp_path / "real", path)
    assert cache.load(KEY, directory) is None


def test_concurrent_writers_leave_one_valid_entry(directory) -> None:
    pids = []
    for i in range(8):
        pid = os.fork()
        if pid == 0:
            ok = all(cache.store(KEY, PROGRAM, SKIPPED, directory) for _ in range(50))
            os._exit(0 if ok else 1)
        pids.append(pid)
    readers_saw = []
    for _ in range(200):
        readers_saw.append(cache.load(KEY, directory))
    statuses = [os.waitpid(pid, 0)[1] for pid in pids]
    assert statuses == [0] * 8
    # A reader saw the entry or nothing yet, never a torn one.
    assert all(seen in (None, (PROGRAM, SKIPPED)) for seen in readers_saw)
    assert os.listdir(directory) == [os.path.basename(entry(directory))]
    assert cache.load(KEY, directory) == (PROGRAM, SKIPPED)


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SIMCON_CACHE_DIR", str(tmp_path))
    assert cache.cache_dir() == str(tmp_path / "seccomp")
