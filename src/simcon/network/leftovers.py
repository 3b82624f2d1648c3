"""Rules a plugin cannot remove when the container's network namespace is already gone.

The bridge plugin of containernetworking-plugins 1.1 (Debian 12) finds the addresses whose masquerade rules it
must remove on the container's interface; when the namespace is gone (unmounted after a crash) its DEL releases
the address but leaves the nat rules. Those rules carry the container id in their comment
(``name: "NET" id: "ID"``), so after such a DEL SimCon removes exactly the rules with that comment and the
per-container chain they jump to. Nothing else is touched.
"""

from __future__ import annotations

import re
import shlex
import subprocess

_PER_CONTAINER_CHAIN = re.compile(r"^CNI-[0-9a-f]{24}$")


def remove_tagged_nat_rules(container_id: str) -> list[str]:
    """Delete the nat rules whose comment names ``container_id``; returns the problems (empty on success)."""
    try:
        saved = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [f"iptables-save: {exc}"]
    if saved.returncode != 0:
        return []  # no iptables here: no rules either
    tag = f'id: \\"{container_id}\\"'
    problems: list[str] = []
    chains: list[str] = []
    for line in saved.stdout.splitlines():
        if not line.startswith("-A ") or tag not in line:
            continue
        words = shlex.split(line)
        if "-j" in words and _PER_CONTAINER_CHAIN.match(words[words.index("-j") + 1]):
            chains.append(words[words.index("-j") + 1])
        problems += _iptables(["-D", *words[1:]])
    for chain in chains:
        problems += _iptables(["-F", chain]) + _iptables(["-X", chain])
    return problems


def _iptables(args: list[str]) -> list[str]:
    try:
        done = subprocess.run(["iptables", "-t", "nat", *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [f"iptables {' '.join(args[:2])}: {exc}"]
    if done.returncode != 0 and "does not exist" not in done.stderr and "No chain" not in done.stderr:
        said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return [f"iptables -t nat {' '.join(args[:2])}: {said}"]
    return []
