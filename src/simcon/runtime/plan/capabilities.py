"""The capability sets of the launch plan: ``process.capabilities`` as bit masks the init hands to capset.

A capability the running kernel does not know, or one SimCon itself does not hold (so capset would refuse
it), is a warning and left out.
"""

from __future__ import annotations

from simcon.errors import ConfigError
from simcon.init.plan import CapsPlan
from simcon.spec.constants import CAPABILITIES

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.spec.model import Capabilities

_CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def _warn(config_file: str, message: str) -> None:
    from simcon import log

    log.warning(f"{config_file}: {message}")


def own_permitted_set() -> int:
    """SimCon's own permitted capability set: what capset can grant."""
    from simcon.linux import capabilities as caps

    return caps.capget()[1]


def bounding_set() -> int:
    """SimCon's own bounding set: what a process in a user namespace of its own holds there."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return 0


def capabilities_plan(capabilities: Capabilities | None, config_file: str, prefix: str = "process.", *,
                      last_cap: int | None = None, own_permitted: int | None = None) -> CapsPlan:
    """Bit masks of ``process.capabilities`` (no section: no capabilities at all, as in runc).

    Names were validated against the known list already (unknown -> error). A capability newer than the running
    kernel, or one SimCon itself does not hold (so capset would refuse it), is a warning and left out.
    """
    from simcon.linux import capabilities as caps

    if last_cap is None:
        last_cap = caps.last_cap()
    if capabilities is None:
        return CapsPlan(last_cap=last_cap)
    if own_permitted is None:
        own_permitted = own_permitted_set()
    masks: dict[str, int] = {}
    for field in _CAP_SETS:
        mask = 0
        for i, name in enumerate(getattr(capabilities, field)):
            where = f"{prefix}capabilities.{field}[{i}]"
            bit = CAPABILITIES.get(name)
            if bit is None:
                raise ConfigError(config_file, where, f'unknown capability "{name}"')
            if bit > last_cap:
                _warn(config_file, f"{where}: {name} is not supported by the running kernel "
                                   f"(cap_last_cap is {last_cap}); skipped")
                continue
            if field != "bounding" and not own_permitted & (1 << bit):
                _warn(config_file, f"{where}: SimCon itself does not hold {name}, so it cannot grant it; skipped")
                continue
            mask |= 1 << bit
        masks[field] = mask
    # The kernel refuses an ambient capability that is not both permitted and inheritable. runc's own default
    # spec (`runc spec`) asks for exactly that (ambient without inheritable) and runc skips them silently, so this
    # is a debug line, not a warning.
    missing = masks["ambient"] & ~(masks["permitted"] & masks["inheritable"])
    if missing:
        from simcon import log

        names = [n for n, b in CAPABILITIES.items() if missing & (1 << b)]
        log.debug(f"{config_file}: {prefix}capabilities.ambient: {', '.join(names)} not in both permitted and "
                  "inheritable; skipped")
        masks["ambient"] &= ~missing
    return CapsPlan(last_cap=last_cap, **masks)
