"""`--init`: a tiny init as PID 1 that reaps orphans and forwards signals (the job of tini / docker --init)."""

from __future__ import annotations

import tempfile

import pytest

pytestmark = pytest.mark.simcon_only("--init and the run.oci.simcon.init annotation are SimCon's")

# The inner shell starts a short sleep in the background and exits at once, so that sleep is orphaned; the
# container's process then execs a long sleep, which never waits for anything. Without a reaper the orphan
# stays a zombie once it has finished.
ABANDONS_A_CHILD = ["sh", "-c", "sh -c 'sleep 0.2 &'; exec sleep 3600"]


def _zombies(rt, cid: str) -> list[str]:  # noqa: ANN001
    """Names of zombie processes in the container, read from /proc inside it."""
    proc = rt.ok("exec", cid, "sh", "-c", "cat /proc/[0-9]*/stat; true")
    zombies = []
    for line in proc.stdout.splitlines():
        comm_end = line.rindex(")")
        state = line[comm_end + 2:].split()[0]
        if state == "Z":
            zombies.append(line[line.index("(") + 1:comm_end])
    return zombies


def _processes(rt, cid: str) -> list[tuple[str, str]]:  # noqa: ANN001
    proc = rt.ok("exec", cid, "sh", "-c", "cat /proc/[0-9]*/stat; true")
    rows = []
    for line in proc.stdout.splitlines():
        pid = line.split(" ", 1)[0]
        rows.append((pid, line[line.index("(") + 1:line.rindex(")")]))
    return rows


def test_without_init_an_abandoned_child_stays_a_zombie(rt) -> None:
    """The control: shows the payload really leaves a zombie when nothing reaps it."""
    bundle = rt.bundle(ABANDONS_A_CHILD)
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    rt.wait_for(lambda: "sleep" in _zombies(rt, bundle.cid), what="the orphaned sleep to become a zombie")


def test_init_reaps_abandoned_children(rt) -> None:
    bundle = rt.bundle(ABANDONS_A_CHILD)
    rt.ok("run", "-d", "--init", "--bundle", bundle.path, bundle.cid)
    # The orphan is gone once the tiny init reaped it: only PID 1 (the init), the long sleep and our exec'd
    # shell and its cat remain, and none of them is a zombie.
    rt.wait_for(lambda: len([p for p in _processes(rt, bundle.cid) if p[1] == "sleep"]) == 1,
                what="the orphaned sleep to finish")
    assert _zombies(rt, bundle.cid) == []
    pids = dict(_processes(rt, bundle.cid))
    assert pids["1"] != "sleep", "with --init the container's process is not PID 1"


def test_init_by_annotation(rt) -> None:
    bundle = rt.bundle(ABANDONS_A_CHILD, write=False)
    bundle.config.setdefault("annotations", {})["run.oci.simcon.init"] = "true"
    bundle.write()
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    rt.wait_for(lambda: len([p for p in _processes(rt, bundle.cid) if p[1] == "sleep"]) == 1,
                what="the orphaned sleep to finish")
    assert _zombies(rt, bundle.cid) == []


@pytest.mark.parametrize(("script", "code"), [("exit 0", 0), ("exit 5", 5), ("kill -9 $$", 137)])
def test_init_exits_with_the_process_status(rt, script: str, code: int) -> None:
    """`kill -9 $$` works here even with a pid namespace: the shell is PID 2, not the namespace's init."""
    proc = rt.run_container(["sh", "-c", script], run_args=("--init",))
    assert proc.returncode == code, rt.describe(proc)


def test_init_forwards_signals_to_the_process(rt) -> None:
    """`kill` signals PID 1, the tiny init; the shell behind it (which has a trap) is the one that reacts."""
    script = "trap 'echo got TERM; exit 7' TERM; echo $$ > /dev/stderr; while :; do sleep 0.1; done"
    bundle = rt.bundle(["sh", "-c", script])
    with tempfile.NamedTemporaryFile() as out, tempfile.NamedTemporaryFile() as err:
        runner = rt.popen("run", "--init", "--bundle", bundle.path, bundle.cid, stdout=out, stderr=err)
        try:
            rt.wait_for(lambda: open(err.name).read().strip() == "2", what="the shell to run as PID 2")
            rt.ok("kill", bundle.cid, "TERM")
            assert runner.wait(timeout=60) == 7
            assert open(out.name).read() == "got TERM\n"
        finally:
            if runner.poll() is None:
                runner.kill()
                runner.wait(timeout=30)
