"""Running one OCI hook: the executable with the container state on stdin, bounded by its timeout.

Used by the parent for prestart/createRuntime/poststart/poststop and by the container init for
createContainer/startContainer, which is why it lives here and imports only the stdlib: the init runs it after
pivot_root, when nothing new can be imported, so ``subprocess`` is imported with this module, before fork.
"""

from __future__ import annotations

import subprocess

from simcon.errors import HookError


class HookFailed(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def run_hook(path: str, args: list[str], env: list[str], timeout: int | None, state_json: bytes) -> None:
    """Run the hook; raise ``HookFailed`` with the reason (exit status, its stderr, timeout, exec error)."""
    environment = dict(e.split("=", 1) for e in env if "=" in e)
    try:
        proc = subprocess.Popen(
            args or [path], executable=path, env=environment, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True,
        )
    except OSError as exc:
        raise HookFailed(f"cannot execute: {exc.strerror or exc}") from exc
    try:
        out, err = proc.communicate(state_json, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise HookFailed(f"timed out after {timeout} s") from None
    if proc.returncode != 0:
        detail = (err or out).decode(errors="replace").strip().splitlines()
        why = f"exited with status {proc.returncode}" if proc.returncode > 0 else f"killed by signal {-proc.returncode}"
        raise HookFailed(f"{why}: {detail[-1]}" if detail else why)


def run_hooks(kind: str, hooks: list, state_json: bytes) -> None:
    """Run ``hooks`` (objects with path/args/env/timeout) in order; the first failure stops the rest."""
    for index, hook in enumerate(hooks):
        try:
            run_hook(hook.path, hook.args, hook.env, hook.timeout, state_json)
        except HookFailed as exc:
            raise HookError(kind, index, hook.path, exc.problem) from None

