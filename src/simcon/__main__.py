from simcon import interrupts
from simcon.cli.main import main

code = main()
interrupts.block()  # done: a late Ctrl-C must not kill the exiting interpreter (see bin/simcon)
raise SystemExit(code)
