"""Process limits of the launch plan: ``process.rlimits`` and ``process.oomScoreAdj``.

An rlimit fails here, in the parent, when SimCon lacks CAP_SYS_RESOURCE to raise what the config asks for
(setrlimit would refuse it later in the init). oomScoreAdj is left to the kernel (see ``oom_score_adj_plan``).
"""

from __future__ import annotations

from simcon.errors import ConfigError
from simcon.runtime.plan import capabilities
from simcon.spec.constants import CAPABILITIES

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.spec.model import Rlimit

CAP_SYS_RESOURCE = CAPABILITIES["CAP_SYS_RESOURCE"]

# <asm-generic/resource.h>: Python's resource module lacks some (RLIMIT_LOCKS) but takes any number.
RLIMIT_NUMBERS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4, "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}


def rlimits_plan(rlimits: list[Rlimit], config_file: str, prefix: str = "process.") -> list[tuple[int, int, int]]:
    """(resource number, soft, hard) for each rlimit. A hard limit above SimCon's own is an error when SimCon
    lacks CAP_SYS_RESOURCE (setrlimit would refuse it in the init)."""
    import resource

    result = []
    can_raise = None
    for i, rlimit in enumerate(rlimits):
        where = f"{prefix}rlimits[{i}]"
        number = RLIMIT_NUMBERS.get(rlimit.type)
        if number is None:
            raise ConfigError(config_file, f"{where}.type", f'rlimit "{rlimit.type}" is not known on this host')
        soft, hard = _limit(rlimit.soft), _limit(rlimit.hard)
        _, own_hard = resource.getrlimit(number)
        if _above(hard, own_hard):
            if can_raise is None:
                can_raise = bool(capabilities.own_permitted_set() & (1 << CAP_SYS_RESOURCE))
            if not can_raise:
                raise ConfigError(config_file, f"{where}.hard",
                                  f"{rlimit.type} hard limit {_show(hard)} is above SimCon's own "
                                  f"({_show(own_hard)}) and SimCon lacks CAP_SYS_RESOURCE to raise it")
        result.append((number, soft, hard))
    return result


def _limit(value: int) -> int:
    """JSON carries 'unlimited' as 2**64-1; Python's resource module spells it RLIM_INFINITY (-1)."""
    import resource

    return resource.RLIM_INFINITY if value >= 2**64 - 1 else value


def _above(value: int, ceiling: int) -> bool:
    import resource

    if ceiling == resource.RLIM_INFINITY:
        return False
    return value == resource.RLIM_INFINITY or value > ceiling


def _show(value: int) -> str:
    import resource

    return "unlimited" if value == resource.RLIM_INFINITY else str(value)


# --- oom_score_adj -------------------------------------------------------------------------------------------------
def oom_score_adj_plan(value: int | None, config_file: str) -> int | None:
    """The value the intermediate writes. Not compared with our own: the kernel lets anyone lower it down to the
    task's oom_score_adj_min without CAP_SYS_RESOURCE (what a CRI sandbox asks for), so only the kernel's own
    refusal, reported by the write, is an error (as runc)."""
    if value is None:
        return None
    if not -1000 <= value <= 1000:
        raise ConfigError(config_file, "process.oomScoreAdj", f"must be between -1000 and 1000, got {value}")
    return value
