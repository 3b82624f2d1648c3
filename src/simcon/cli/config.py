"""`simcon config`: SimCon's own settings (config files, SIMCON_* variables, flags): show or validate them."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

HELP = "show the effective settings and where each comes from, or validate a config file"
EXAMPLES = (
    "simcon config show",
    "simcon config validate /etc/simcon/simcon.toml",
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("action", metavar="ACTION", choices=("show", "validate"),
                        help="show: every key, its value and its source; validate FILE: check one file")
    parser.add_argument("file", nargs="?", metavar="FILE", help="the file to validate")
    parser.add_argument("-f", "--format", default="table", choices=("table", "json"), help="output format")


def run(args: Namespace, store) -> int:  # noqa: ARG001
    from simcon import fastjson, settings
    from simcon.errors import UsageError

    if args.action == "validate":
        if not args.file:
            raise UsageError("config validate: missing FILE")
        keys = settings.read_file(args.file)
        print(f"{args.file}: ok ({len(keys)} key{'s' if len(keys) != 1 else ''})")
        return 0
    if args.file:
        raise UsageError("config show takes no FILE (SIMCON_CONFIG names an extra file)")
    effective = args.settings
    if effective.get("root") is None:
        from simcon.cli.main import default_root

        effective.set("root", default_root(), "default")
    if args.format == "json":
        print(fastjson.dumps({s.key: {"value": effective.get(s.key), "source": effective.sources[s.key]}
                              for s in settings.SETTINGS}, indent=2))
        return 0
    rows = [("KEY", "VALUE", "SOURCE")]
    rows += [(s.key, settings.render_toml_value(effective.get(s.key)), effective.sources[s.key])
             for s in settings.SETTINGS]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for key, value, source in rows:
        print(f"{key:{widths[0]}}   {value:{widths[1]}}   {source}")
    return 0
