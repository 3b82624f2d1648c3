# SimCon developer entry points. Run as root on Debian 12 (containers need it):
#   make demo    one busybox container, its hostname, its `ps` and its exit status
#   make test    the whole test suite (unit + integration)
#   make test-vm the cgroup v2 tests (tests/vm) inside a small QEMU VM with a pure v2 kernel (docs/vm.md)
#   make test-vm-systemd  only its systemd boot: --systemd-cgroup, podman and containerd on SimCon
#   make bench   simcon next to runc and crun (bench/run.sh, docs/performance.md)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# Always Debian's interpreter: `python3` on PATH may be a slow pyenv shim.
SYSTEM_PYTHON := /usr/bin/python3
VENV := .venv
# Re-done when pyproject.toml (the dependencies), bin/simcon (installed as a copy) or this recipe's inputs change.
SETUP_STAMP := $(VENV)/.simcon-setup-stamp
# `make demo DEMO_RUNTIME=runc` shows the same container under runc (or crun) for comparison.
DEMO_RUNTIME := $(VENV)/bin/simcon

.PHONY: setup demo test test-unit test-net-leaks test-vm test-vm-systemd bench docs man clean test-logs-stress

setup: $(SETUP_STAMP)
	@scripts/install-deps.sh
	@# Byte-compile up front: with PYTHONDONTWRITEBYTECODE set (as on these machines) every `simcon` call would
	@# otherwise recompile its modules, which is most of a `simcon state`.
	@$(VENV)/bin/python -m compileall -q src

$(SETUP_STAMP): pyproject.toml Makefile scripts/install-deps.sh bin/simcon
	scripts/install-deps.sh
	$(VENV)/bin/python -c "" 2>/dev/null || $(SYSTEM_PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -e '.[test]'
	touch $@

demo: setup
	@scripts/demo.sh $(DEMO_RUNTIME)

test: setup
	$(VENV)/bin/pytest -q tests

test-unit: setup
	$(VENV)/bin/pytest -q tests/unit

# The network leak test with 100 create/start/delete cycles (make test runs 5): a few minutes.
test-net-leaks: setup
	SIMCON_NET_CYCLES=100 $(VENV)/bin/pytest -q tests/integration/test_network.py -k cycles

# The property tests with hypothesis's `fuzz` profile (tests/conftest.py): 2000 new examples per loader/state test
# instead of `make test`'s 100 fixed ones, and about 160 real creates. FUZZ_ARGS=... for more pytest options.
.PHONY: fuzz
fuzz: setup
	$(VENV)/bin/pytest -q --hypothesis-profile=fuzz --hypothesis-show-statistics $(FUZZ_ARGS) \
		tests/unit/test_fuzz_input.py tests/integration/test_fuzz_create.py

# Every fault signal (KILL, INT, TERM) at every step of the container init too (`make test` kills the init with
# KILL only), and a longer load test: LOAD_ROUNDS rounds of parallel lifecycles (make test runs 3).
test-faults: setup
	SIMCON_FAULT_ALL=1 LOAD_ROUNDS=$(or $(LOAD_ROUNDS),10) $(VENV)/bin/pytest -q tests/integration/test_faults.py \
		tests/integration/test_load.py

# The log rotation stress test at the issue's full size: 200 MB of numbered lines through rotation at 1 MB x 3
# while `logs -f` follows (`make test` writes 20 MB; docs/logging.md).
test-logs-stress: setup
	LOGS_STRESS_MB=200 $(VENV)/bin/pytest -q tests/integration/test_logs.py -k rotation

# The guest sees this checkout and the venv at the same paths (the host's / over 9p): nothing to install there.
# Two boots: the v2 tests, then the AppArmor ones in a guest booted with AppArmor. More files on v2:
# `make test-vm VM_TESTS="tests/vm tests/integration/test_cgroups_lifecycle.py"`.
# A third boot runs systemd as PID 1 (test-vm-systemd: the systemd cgroup driver, podman, containerd).
VM_TESTS := tests/vm
test-vm: setup
	scripts/vm/run-in-vm.sh -- $(VENV)/bin/pytest -q -m "not apparmor and not systemd" $(VM_TESTS)
	scripts/vm/run-in-vm.sh --apparmor -- $(VENV)/bin/pytest -q -m apparmor tests/vm
	scripts/vm/run-in-vm.sh --systemd -- $(VENV)/bin/pytest -q -m systemd tests/vm

test-vm-systemd: setup
	scripts/vm/run-in-vm.sh --systemd -- $(VENV)/bin/pytest -q -m systemd tests/vm

bench: setup $(VENV)/.simcon-bench-stamp
	bench/run.sh

# The generated parts of docs/ (settings and API reference; a unit test fails when they are stale), then the API
# reference as browsable HTML with pdoc (the `docs` extra) in build/docs/.
docs: setup man
	$(VENV)/bin/python tools/gendocs.py
	$(VENV)/bin/pip install --disable-pip-version-check -q -e '.[docs]'
	$(VENV)/bin/pdoc -o build/docs simcon.api simcon.errors

# The man pages in docs/man/, from the command-line parser (a unit test fails when they are stale).
man: setup
	$(VENV)/bin/python tools/genman.py

# matplotlib for bench/plot.py: only for `make bench`, never on the test path.
$(VENV)/.simcon-bench-stamp: pyproject.toml
	$(VENV)/bin/pip install --disable-pip-version-check -q -e '.[test,bench]'
	touch $@

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
	find src tests tools bench -name __pycache__ -type d -prune -exec rm -rf {} +
