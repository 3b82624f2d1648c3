from simcon.cli.main import main

raise SystemExit(main())
