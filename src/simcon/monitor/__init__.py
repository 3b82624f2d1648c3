"""The per-container monitor of a detached `run`: parent and subreaper of the container's init.

    simcon run -d                   first child            monitor (M)                          init
      | pipe                          |                      |
      |---- fork ------------------->| setsid                |
      |                               |---- fork ----------->| PR_SET_CHILD_SUBREAPER
      | waitpid(first child)          x                      | create + start (in-process) ---->|  re-parented to M
      |<--- "ok" / error, EOF --------------------------------| stdio -> /dev/null               |  when the
      | exit 0 (or the error)                                | execve a lean waiter (same pid,  |  intermediate
                                                             |   children and subreaper flag)   |  exits
                                                             | waitpid ... init exits           x
                                                             | exit status + time -> state.json
                                                             x

The monitor must exist before the container's init does: an orphan goes to its nearest subreaper ancestor, so
the create runs inside the monitor. After start it execs ``waiter`` in a bare interpreter (`python -I -S`, only
`os` and the state module), which halves its memory (see docs/processes.md for numbers). The logging work will add
log drivers here: the monitor is the process that can hold the container's stdio.
"""
