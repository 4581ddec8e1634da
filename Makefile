# Two commands do all the set-up: `make demo` and `make test`.
# Each one installs ngspice when missing (as root), creates .venv and installs the
# project into it with the test, plot and torch extras (only once: the stamp file is
# refreshed when pyproject.toml changes).
# TORCH_INDEX: an extra package index for torch, e.g. the CPU-only builds
# (make test TORCH_INDEX=https://download.pytorch.org/whl/cpu); PyPI's Linux wheel of
# torch bundles CUDA libraries (several GB) that the tests do not use.

PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-stamp
PY     := $(VENV)/bin/python
TORCH_INDEX ?=

.PHONY: demo test lint setup ngspice bench reliability docs docs-check clean

demo: setup
	$(VENV)/bin/cosim demo

test: setup
	$(PY) -m pytest -q

# ruff with the rule selection of pyproject.toml ([tool.ruff.lint]).
lint: setup
	$(VENV)/bin/ruff check cosim

setup: ngspice $(STAMP)

ngspice:
	@bash scripts/ensure-ngspice.sh

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (found " + sys.version.split()[0] + ")")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) \
		-e '.[test,plot,torch]'
	touch $(STAMP)

# Every benchmark script but compare_trees.py (it compares two source trees given as
# arguments) and the helpers (_*.py).
bench: setup
	for b in benchmarks/[!_]*.py; do case $$b in *compare_trees.py) continue;; esac; \
		$(PY) $$b || exit 1; done

docs: setup
	$(PY) scripts/docs.py

# Every quoted transcript and figure against what the commands print now, the long demo
# included (the test suite checks all but the long blocks); CI runs it after the tests.
docs-check: setup
	$(PY) scripts/docs.py --check

reliability: setup
	$(PY) scripts/reliability.py

clean:
	rm -rf $(VENV) build *.egg-info
