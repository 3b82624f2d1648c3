"""The per-container monitor of a detached `run`: parent and subreaper of the container's init.

    simcon run -d                   first child            monitor (M)                          init
      | pipe                          |                      |
      |---- fork ------------------->| setsid                |
      |                               |---- fork ----------->| PR_SET_CHILD_SUBREAPER
      | waitpid(first child)          x                      | setup(): create + start -------->|  re-parented to M
      |<--- "ok" / error, EOF --------------------------------| stdio -> /dev/null               |  when the
      | exit 0 (or print the error)                          | execve a bare interpreter (same  |  intermediate
                                                             |   pid, children, subreaper flag) |  exits
                                                             | waitpid ... init exits           x
                                                             | exit status + time -> state.json
                                                             x

The monitor must exist before the container's init does: an orphan goes to its nearest subreaper ancestor, so
the create runs inside the monitor (``launch.spawn`` runs a ``setup`` given by the runtime). After start it execs
`python -I -S` running ``runtime.exit_record.main``, which imports only ``waiter`` and the state module: that
halves its memory (docs/processes.md has the numbers). The logging work will add log drivers here: the monitor is
the process that can hold the container's stdio.
"""
