"""The launch plan: config.json and the command-line options turned into frozen plain values, before anything forks.

This package is the only reader of the config (``spec``) and of the options for `create`/`run` and `exec`. Everything
that can fail on bad input fails here, in the parent, with the file and JSON path in the message, before anything
is made on the host. The result is frozen (``simcon.records.Record`` with ``frozen=True``, tuples for sequences):
nothing changes a plan after it was built. What only the launch learns (the fds it opens, helper pids, the cgroup
directories it made, what newgidmap decided) lives in the launcher's own state
(``init.plan.ContainerLaunch``/``ExecLaunch``).

    plan_create(id, options)               -> CreatePlan    (container.py: reads the bundle, then build_plan)
        .container   ContainerPlan: what the intermediate and the init do (init/plan.py); .process is a ProcessPlan
        .hooks       HooksPlan: all six lists, each hook with the timeout it runs under          (hooks.py)
        .cgroup      CgroupRequest: the checked cgroups path, linux.resources, the driver         (cgroup.py)
        start_timeout, console, pid file, what state.json records
    build_exec_plan(state, dir, options)   -> ExecPlan      (exec_plan.py)
        .process     the same ProcessPlan, built by the same process_plan()                      (process.py)

One module per section or concern: process.py (user, env, cwd, terminal, with capabilities.py, rlimits.py and
lsm_labels.py), mounts.py (mounts, devices), idmaps.py (user namespace maps), sysctl.py, personality.py,
seccomp.py (compiled with libseccomp here), hooks.py, cgroup.py.

How to add a section (a network, logging, a cgroup driver):

1. Write ``runtime/plan/<section>.py``: a frozen ``simcon.records.Record`` for the section and one function
   ``<section>_plan(...)`` that reads the config sections and options it needs and returns it, raising
   ``ConfigError(config_file, json_path, problem)`` for bad input. Put the record in ``init/plan.py`` instead
   if the children must read it (init/ cannot import runtime/).
2. Add a field to ``CreatePlan`` (parent only) or ``ContainerPlan`` (the children too) with a default, and one
   call in ``build_plan``. New command-line options go on ``options.CreateOptions``/``ExecOptions``.
3. What the launch learns while carrying the section out goes on the launcher (``runtime.create._Launcher``)
   or ``ContainerLaunch``, never back into the plan.
4. A unit test in tests/unit/test_plan.py: config in, plan out, and the JSON path of each error.
"""

from __future__ import annotations

from simcon.init.plan import (
    CapsPlan,
    ContainerPlan,
    DevicePlan,
    ExecPlan,
    HookPlan,
    IdmapPlan,
    MountPlan,
    ProcessPlan,
    SeccompPlan,
)
from simcon.runtime.plan.container import ROOTFS_PROPAGATION, CreatePlan, build_plan, plan_create
from simcon.runtime.plan.exec_plan import build_exec_plan
from simcon.runtime.plan.hooks import HooksPlan
from simcon.runtime.plan.mounts import DEFAULT_DEVICES
from simcon.runtime.plan.options import CreateOptions, ExecOptions

__all__ = [
    "DEFAULT_DEVICES", "ROOTFS_PROPAGATION", "CapsPlan", "ContainerPlan", "CreateOptions", "CreatePlan",
    "DevicePlan", "ExecOptions", "ExecPlan", "HookPlan", "HooksPlan", "IdmapPlan", "MountPlan", "ProcessPlan",
    "SeccompPlan", "build_exec_plan", "build_plan", "plan_create",
]
