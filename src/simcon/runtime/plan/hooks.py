"""The hooks section: all six lists of config.json's ``hooks``, each hook with the timeout it runs under.

Hooks without a timeout of their own that run on the way to a running container (prestart, createRuntime,
startContainer) get the start timeout: nothing on that way may hang forever. createContainer hooks need none (the
parent's wait for the init's READY is bounded already), and poststart/poststop keep theirs as given, as they
always did.
"""

from __future__ import annotations

from simcon.errors import ConfigError
from simcon.init.plan import HookPlan
from simcon.records import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.spec.model import Hook, Hooks

START_TIMEOUT_ANNOTATION = "run.oci.simcon.start-timeout"
DEFAULT_START_TIMEOUT = 120.0  # seconds the parent waits for each answer of its children during create


class HooksPlan(Record, frozen=True):
    prestart: tuple[HookPlan, ...] = ()
    create_runtime: tuple[HookPlan, ...] = ()
    create_container: tuple[HookPlan, ...] = ()
    start_container: tuple[HookPlan, ...] = ()
    poststart: tuple[HookPlan, ...] = ()
    poststop: tuple[HookPlan, ...] = ()

    @property
    def init_waits(self) -> bool:
        """Whether the init stops for the parent before createContainer (to run prestart/createRuntime hooks, and
        to receive the state its own hooks get on stdin)."""
        return bool(self.prestart or self.create_runtime or self.create_container or self.start_container)


def start_timeout(annotations: dict[str, str], config_file: str, default: float | None = None) -> float:
    """The annotation ``run.oci.simcon.start-timeout`` (seconds), or ``default`` (simcon.toml's start_timeout),
    or ``DEFAULT_START_TIMEOUT``."""
    text = annotations.get(START_TIMEOUT_ANNOTATION)
    if text is None:
        return DEFAULT_START_TIMEOUT if default is None else float(default)
    try:
        value = float(text)
        if not 0 < value < 1e9:
            raise ValueError
    except ValueError:
        raise ConfigError(config_file, f'annotations["{START_TIMEOUT_ANNOTATION}"]',
                          f"expected a positive number of seconds, got {text!r}") from None
    return value


def hooks_plan(hooks: Hooks | None, timeout: float) -> HooksPlan:
    if hooks is None:
        return HooksPlan()
    bound = max(1, int(timeout + 0.999))
    return HooksPlan(
        prestart=_hooks(hooks.prestart, bound),
        create_runtime=_hooks(hooks.create_runtime, bound),
        create_container=_hooks(hooks.create_container, None),
        start_container=_hooks(hooks.start_container, bound),
        poststart=_hooks(hooks.poststart, None),
        poststop=_hooks(hooks.poststop, None),
    )


def _hooks(hooks: list[Hook] | None, default_timeout: int | None) -> tuple[HookPlan, ...]:
    return tuple(HookPlan(h.path, tuple(h.args or ()), tuple(h.env or ()),
                          h.timeout if h.timeout is not None else default_timeout) for h in hooks or ())

