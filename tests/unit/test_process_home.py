"""HOME for the container's process from its /etc/passwd when the config has none (issue 10, item 7)."""

from __future__ import annotations


def test_home_of_reads_the_uids_entry(tmp_path) -> None:
    from simcon.init.process_setup import home_of

    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/sh\nbad line\nuser:x:1000:1000::/home/user:/bin/sh\n"
                      "nohome:x:7:7:::/bin/sh\n")
    assert home_of(0, str(passwd)) == "/root"
    assert home_of(1000, str(passwd)) == "/home/user"
    assert home_of(7, str(passwd)) == "/"  # an empty home field
    assert home_of(4242, str(passwd)) == "/"  # no entry
    assert home_of(0, str(tmp_path / "missing")) == "/"


def test_home_of_does_not_read_a_fifo(tmp_path) -> None:
    import os

    from simcon.init.process_setup import home_of

    fifo = tmp_path / "passwd"
    os.mkfifo(fifo)
    assert home_of(0, str(fifo)) == "/"  # returns at once: opened non-blocking, and not a regular file


def test_environment_adds_home_only_when_missing() -> None:
    from simcon.init.process_setup import environment

    assert environment(["PATH=/bin"], "/root") == {"PATH": "/bin", "HOME": "/root"}
    assert environment(["HOME=/x"], "/root") == {"HOME": "/x"}
    assert environment(["PATH=/bin"]) == {"PATH": "/bin"}
