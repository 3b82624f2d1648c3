"""`simcon doctor`: one screen on what this host supports and what is wrong, with a fix for each problem."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

HELP = "check this host: kernel, cgroups, namespaces, seccomp, LSMs, CNI, state root, leftovers, engines"
EXAMPLES = (
    "simcon doctor",
    "simcon doctor --format json | jq '.[] | select(.status != \"ok\")'",
)

_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "info": "info"}


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-f", "--format", default="table", choices=("table", "json"), help="output format")


def run(args: Namespace, store) -> int:  # noqa: ARG001
    from simcon import fastjson
    from simcon.cli.main import default_root
    from simcon.runtime import doctor

    settings = args.settings
    findings = doctor.run_checks(doctor.Host(), root=args.root or default_root(),
                                 cni_plugin_dirs=list(settings.get("cni_plugin_dirs")),
                                 cni_config_dir=str(settings.get("cni_config_dir")),
                                 cgroup_manager=str(settings.get("cgroup_manager")))
    if args.format == "json":
        print(fastjson.dumps([f.to_json() for f in findings], indent=2))
        return doctor.exit_code(findings)
    width = max(len(f.check) for f in findings)
    for f in findings:
        print(f"[{_MARK[f.status]}] {f.check:{width}}  {f.detail}")
        if f.fix and f.status in ("warn", "fail", "info"):
            print(f"       {'':{width}}  fix: {f.fix}")
    failed = [f.check for f in findings if f.needed and f.status == "fail"]
    print(f"\n{'problems that stop containers: ' + ', '.join(failed) if failed else 'this host can run SimCon containers'}")
    return doctor.exit_code(findings)
