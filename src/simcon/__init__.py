"""SimCon: a runc-compatible OCI container runtime, and a Python library (``simcon.Runtime``, docs/api.md).

Importing ``simcon`` costs nothing beyond the version constants: ``Runtime`` and ``Container`` are loaded from
``simcon.api`` on first use, so the ``simcon`` command's hot verbs do not pay for the library's names.
"""

from simcon.version import OCI_VERSION, __version__

__all__ = ["OCI_VERSION", "Container", "Runtime", "__version__"]


def __getattr__(name: str) -> object:
    if name in ("Runtime", "Container"):
        from simcon import api

        return getattr(api, name)
    raise AttributeError(f"module 'simcon' has no attribute {name!r}")
