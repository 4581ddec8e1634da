# Two commands do all the set-up: `make demo` and `make test`.
# Each one installs ngspice when missing (as root), creates .venv and installs the
# project into it (only once: the stamp file is refreshed when pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-stamp
PY     := $(VENV)/bin/python

.PHONY: demo test setup ngspice bench reliability clean

demo: setup
	$(VENV)/bin/cosim demo

test: setup
	$(PY) -m pytest -q

setup: ngspice $(STAMP)

ngspice:
	@bash scripts/ensure-ngspice.sh

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (found " + sys.version.split()[0] + ")")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,plot]'
	touch $(STAMP)

bench: setup
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

reliability: setup
	$(PY) scripts/reliability.py

clean:
	rm -rf $(VENV) build *.egg-info
