"""config.json: typed models (``model``), loading with JSON-path errors (``load``), value checks (``validate``),
the default spec (``default``) and the features document (``features``).

The re-exports below are resolved on first use, so ``import simcon.spec`` stays cheap; hot paths can import
``simcon.spec.load`` directly.
"""

from __future__ import annotations

import sys

__all__ = ["decode_process", "default_spec", "features_document", "load_config"]

_HOMES = {
    "load_config": "simcon.spec.load",
    "decode_process": "simcon.spec.load",
    "default_spec": "simcon.spec.default",
    "features_document": "simcon.spec.features",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'simcon.spec' has no attribute {name!r}")
    __import__(home)  # not importlib.import_module: `importlib` imports `warnings`, on every create
    return getattr(sys.modules[home], name)
