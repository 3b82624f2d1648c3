"""``linux.personality`` in the launch plan: the execution domain number personality(2) takes."""

from __future__ import annotations

from simcon.errors import ConfigError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.spec.model import Personality

PER_LINUX = 0x0000
PER_LINUX32 = 0x0008


def personality_plan(personality: Personality | None, config_file: str) -> int | None:
    if personality is None:
        return None
    domains = {"LINUX": PER_LINUX, "LINUX32": PER_LINUX32}
    if personality.domain not in domains:
        raise ConfigError(config_file, "linux.personality.domain",
                          f'unknown domain "{personality.domain}" (expected LINUX or LINUX32)')
    if personality.flags:
        raise ConfigError(config_file, "linux.personality.flags",
                          "personality flags are not supported (the runtime-spec defines none yet)")
    return domains[personality.domain]
