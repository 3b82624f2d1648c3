"""The device rule list: the v1 kernel's semantics (``emulate``, ``permits``) and the v2 eBPF program compiled from
them, run here by a small interpreter of the instructions it uses, decide the same for every request.

The program on the real kernel: tests/integration/test_devices_bpf.py (this host's cgroup2 hierarchy) and
tests/vm/test_v2_devices.py (containers on a pure v2 kernel).
"""

from __future__ import annotations

import random
import struct

import pytest

from simcon.cgroups import devfilter
from simcon.cgroups.controllers import devices
from simcon.cgroups.controllers.devices import ANY, Rule
from simcon.records import convert
from simcon.spec.model import Resources


def rules_of(*raw: dict) -> list[Rule]:
    resources = convert({"devices": list(raw)}, Resources)
    return devices.effective_rules(resources, "linux.resources")[: len(raw)]


def deny_all() -> dict:
    return {"allow": False, "access": "rwm"}


def kmsg(access: str, allow: bool = True) -> dict:
    return {"allow": allow, "type": "c", "major": 1, "minor": 11, "access": access}


# -- the rule list --------------------------------------------------------------------------------------------------


def test_rules_are_normalised_and_the_defaults_follow():
    resources = convert({"devices": [{"allow": True}, {"allow": False, "type": "c", "major": 1, "access": "wr"}]},
                        Resources)
    rules = devices.effective_rules(resources, "linux.resources")
    assert rules[:2] == [Rule(True, "a", ANY, ANY, "rwm"), Rule(False, "c", 1, ANY, "rw")]
    assert rules[2:] == list(devices.DEFAULT_ALLOWED)
    assert rules[1].text() == "c 1:* rw"


@pytest.mark.parametrize(("raw", "expected"), [
    ([deny_all(), kmsg("r")], (False, ["c 1:11 r"])),
    ([kmsg("rw"), deny_all()], (False, [])),
    ([deny_all(), kmsg("r"), kmsg("w")], (False, ["c 1:11 rw"])),
    ([deny_all(), kmsg("rwm"), kmsg("w", allow=False)], (False, ["c 1:11 rm"])),
    ([deny_all(), kmsg("r"), kmsg("r", allow=False)], (False, [])),
    # A wildcard deny does not reach a specific allow (the kernel matches exceptions exactly).
    ([deny_all(), kmsg("r"), {"allow": False, "type": "c", "major": 1, "access": "r"}], (False, ["c 1:11 r"])),
    ([{"allow": True, "access": "rwm"}, kmsg("w", allow=False)], (True, ["c 1:11 w"])),
    ([{"allow": True}, kmsg("w", allow=False), kmsg("rw")], (True, [])),
    # Type `a` resets whatever its numbers say.
    ([deny_all(), kmsg("r"), {"allow": True, "type": "a", "major": 1, "minor": 3}], (True, [])),
])
def test_emulate_follows_the_v1_kernel(raw: list[dict], expected: tuple) -> None:
    default_allow, exceptions = devices.emulate(rules_of(*raw))
    assert (default_allow, [ex.text() for ex in exceptions]) == expected


def test_permits():
    deny_default = (False, [Rule(True, "c", 1, 11, "r"), Rule(True, "c", ANY, ANY, "m")])
    assert devices.permits(*deny_default, "c", 1, 11, "r")
    assert not devices.permits(*deny_default, "c", 1, 11, "w")
    assert not devices.permits(*deny_default, "c", 1, 11, "rw")  # one exception must grant it all
    assert devices.permits(*deny_default, "c", 7, 7, "m")
    assert not devices.permits(*deny_default, "b", 7, 7, "m")
    allow_default = (True, [Rule(False, "b", 8, ANY, "w")])
    assert devices.permits(*allow_default, "b", 8, 1, "r")
    assert not devices.permits(*allow_default, "b", 8, 1, "rw")  # sharing one letter is enough to deny
    assert devices.permits(*allow_default, "c", 8, 1, "w")


# -- the eBPF program -----------------------------------------------------------------------------------------------


def run(program: bytes, kind: str, major: int, minor: int, access: str) -> int:
    """Interpret the instructions devfilter emits on a struct bpf_cgroup_dev_ctx; r0 at exit."""
    ctx = (devfilter.access_bits(access) << 16 | {"b": 1, "c": 2}[kind], major, minor)
    regs: list = [0] * 11
    regs[1] = "ctx"
    insns = [struct.unpack("<BBhi", program[i:i + 8]) for i in range(0, len(program), 8)]
    pc = 0
    for _ in range(10_000):
        code, regs_byte, off, imm = insns[pc]
        dst, src = regs_byte & 0xF, regs_byte >> 4
        pc += 1
        if code == 0x61:
            assert regs[src] == "ctx" and off in (0, 4, 8), "loads only from the context"
            regs[dst] = ctx[off // 4]
        elif code == 0xB7:
            regs[dst] = imm & 0xFFFFFFFFFFFFFFFF
        elif code == 0xBF:
            regs[dst] = regs[src]
        elif code == 0x57:
            regs[dst] &= imm & 0xFFFFFFFFFFFFFFFF
        elif code == 0x77:
            regs[dst] >>= imm
        elif code in (0x16, 0x56):  # JMP32: the low 32 bits against the immediate
            if ((regs[dst] & 0xFFFFFFFF) == (imm & 0xFFFFFFFF)) == (code == 0x16):
                pc += off
        elif code == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
    raise AssertionError("the program did not exit")


KINDS = ("c", "b")
NUMBERS = (ANY, 1, 3, 11)
ACCESSES = ("r", "w", "m", "rw", "rm", "wm", "rwm")


def random_rule(rng: random.Random) -> dict:
    rule: dict = {"allow": rng.random() < 0.5, "access": rng.choice(ACCESSES)}
    if rng.random() < 0.85:
        rule["type"] = rng.choice(KINDS)
        for key in ("major", "minor"):
            if rng.random() < 0.8:
                rule[key] = rng.choice(NUMBERS)
    else:
        rule["type"] = "a"
    return rule


def test_the_program_decides_as_the_kernel_would():
    rng = random.Random(20261202)
    requests = [(kind, major, minor, access) for kind in KINDS for major in (1, 3, 11, 200)
                for minor in (1, 3, 11) for access in ("r", "w", "m", "rw")]
    for _ in range(300):
        raw = [random_rule(rng) for _ in range(rng.randint(0, 6))]
        resources = convert({"devices": raw}, Resources)
        # With and without the defaults after them: the defaults alone never let the allow-all cases show.
        for rules in (devices.effective_rules(resources, "r"), devices.effective_rules(resources, "r")[: len(raw)]):
            default_allow, exceptions = devices.emulate(rules)
            program = devfilter.program(default_allow, exceptions)
            for request in requests:
                expected = devices.permits(default_allow, exceptions, *request)
                assert run(program, *request) == int(expected), (raw, request)


def test_the_program_for_the_defaults():
    default_allow, exceptions = devices.emulate(rules_of(deny_all()) + list(devices.DEFAULT_ALLOWED))
    program = devfilter.program(default_allow, exceptions)
    assert run(program, "c", 1, 3, "rw") == 1  # /dev/null
    assert run(program, "c", 136, 7, "rw") == 1  # a pts
    assert run(program, "b", 8, 0, "m") == 1  # mknod of anything
    assert run(program, "b", 8, 0, "r") == 0
    assert run(program, "c", 1, 11, "w") == 0


def test_numbers_beyond_31_bits_compare_exactly():
    program = devfilter.program(False, [Rule(True, "c", 0xFFFFFFF0, 5, "r")])
    assert run(program, "c", 0xFFFFFFF0, 5, "r") == 1
    assert run(program, "c", 0x7FFFFFF0, 5, "r") == 0


# -- v1 update: changing a deny-all list in place -------------------------------------------------------------------


def test_parse_list():
    assert devices.parse_list("c 1:3 rwm\nc *:* m\nb 8:* r\n") == (False, [
        Rule(True, "c", 1, 3, "rwm"), Rule(True, "c", ANY, ANY, "m"), Rule(True, "b", 8, ANY, "r")])
    assert devices.parse_list("a *:* rwm\n") == (True, [])
    assert devices.parse_list("") == (False, [])
    assert devices.parse_list("c 1:x rwm") is None


def test_the_transition_ends_where_a_fresh_list_would():
    rng = random.Random(7)
    requests = [(kind, major, minor, access) for kind in KINDS for major in (1, 3, 11)
                for minor in (1, 3, 11) for access in ("r", "w", "m", "rw")]
    for _ in range(300):
        raw_current = [deny_all()] + [random_rule(rng) for _ in range(rng.randint(0, 5))]
        raw_target = [deny_all()] + [random_rule(rng) for _ in range(rng.randint(0, 5))]
        current = devices.emulate(rules_of(*raw_current))
        target = devices.emulate(rules_of(*raw_target))
        if current[0] or target[0]:
            continue  # allow-all lists are reset, not changed in place
        # What the kernel holds after the writes, and after each of them: never less than both would allow.
        applied = [Rule(False, "a", ANY, ANY, "rwm"), *current[1]]
        for name, rule in devices._transition(current[1], target[1]):
            applied.append(rule._replace(allow=name == "devices.allow"))
            now = devices.emulate(applied)
            for request in requests:
                if devices.permits(*current, *request) and devices.permits(*target, *request):
                    assert devices.permits(*now, *request), (raw_current, raw_target, request)
        final = devices.emulate(applied)
        for request in requests:
            assert devices.permits(*final, *request) == devices.permits(*target, *request)
