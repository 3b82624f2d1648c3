"""Where a container's log files are, and removing them: what `delete` needs, without the capture machinery.

Default files: ``<root>/@logs/<id>/container.log`` and its rotations (`@` cannot occur in an id, so no
container's directory can collide with it). They survive the state directory only with `delete --keep-logs`.
"""

from __future__ import annotations

import os

LOGS_DIR = "@logs"
LOG_FILE = "container.log"


def default_log_path(root: str, container_id: str) -> str:
    return os.path.join(root, LOGS_DIR, container_id, LOG_FILE)


def remove_logs(root: str, container_id: str, log: dict | None) -> None:
    """`delete`: the container's log files (the default directory, or a `path=` file and its rotations)."""
    import shutil

    if log is None:
        return
    path = str(log.get("path") or "")
    default_dir = os.path.join(root, LOGS_DIR, container_id)
    if os.path.dirname(path) == default_dir:
        shutil.rmtree(default_dir, ignore_errors=True)
        try:
            os.rmdir(os.path.join(root, LOGS_DIR))
        except OSError:
            pass  # other containers' logs are there
        return
    if log.get("driver") in ("k8s-file", "json-file") and path:
        directory, base = os.path.split(path)
        try:
            names = os.listdir(directory)
        except OSError:
            return
        for name in names:
            rotation = name[len(base) + 1:].removesuffix(".gz")  # container.log.3.gz -> "3"
            if name == base or (name.startswith(base + ".") and rotation.isdigit()):
                try:
                    os.unlink(os.path.join(directory, name))
                except OSError:
                    pass
