# bayesmix: two commands.
#   make demo   -- create .venv if needed, install, run the carcinoma LCA spec via the bayesmix CLI
#   make test   -- create .venv if needed, install the dev extra, run the tests
# Other targets: make bench, make docs, make notebooks, make clean-venv, make help.
# The Python used to create .venv comes from scripts/find_python.sh
# (>= 3.12; override with PYTHON=/path/to/python3.12).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
VENV_PY     := $(VENV)/bin/python
PYTEST_ARGS ?= -q -n 2 --dist loadfile

.PHONY: help demo test bench docs notebooks venv install-demo install-dev clean-venv

help:
	@echo "make demo   # set up .venv and run bayesmix run carcinoma_lca_k2 (BAYESMIX_DEMO_QUICK=1: fast)"
	@echo "make test   # set up .venv with the dev extra and run the test suite"
	@echo "make bench  # run benchmarks/bench_lca.py"
	@echo "make docs   # build the documentation site into docs/_build/html"
	@echo "make notebooks  # re-execute every case_studies/*.ipynb in full mode, in place (hours)"
	@echo "make clean-venv  # remove .venv"

# (Re)create .venv unless it exists and runs a Python >= 3.12.
venv:
	@if [ -x "$(VENV_PY)" ] && "$(VENV_PY)" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	  exit 0; \
	fi; \
	if [ -e "$(VENV)" ]; then \
	  echo "$(VENV) is missing a working Python >= 3.12: recreating it"; \
	  rm -rf "$(VENV)"; \
	fi; \
	py=$$(scripts/find_python.sh) || exit 1; \
	echo "creating $(VENV) with $$py ($$("$$py" --version 2>&1))"; \
	"$$py" -m venv "$(VENV)"

# Install only when the stamp is missing or older than pyproject.toml.
# (Stamps live inside .venv, so a recreated venv reinstalls.)
install-demo: venv
	@if [ ! -f "$(VENV)/.installed" ] || [ pyproject.toml -nt "$(VENV)/.installed" ]; then \
	  echo "installing bayesmix[nutpie,plot] into $(VENV)"; \
	  "$(VENV_PY)" -m pip install -e '.[nutpie,plot]' && touch "$(VENV)/.installed"; \
	fi

install-dev: venv
	@if [ ! -f "$(VENV)/.installed-dev" ] || [ pyproject.toml -nt "$(VENV)/.installed-dev" ]; then \
	  echo "installing bayesmix[dev] into $(VENV)"; \
	  "$(VENV_PY)" -m pip install -e '.[dev]' && touch "$(VENV)/.installed-dev"; \
	fi

# The demo runs the bundled spec models/carcinoma_lca_k2.toml through the command line
# (ML + NUTS; summary, bm.save results and plots in demo_out/). BAYESMIX_DEMO_QUICK=1: fast mode.
DEMO_SPEC ?= carcinoma_lca_k2
demo: install-demo
	"$(VENV)/bin/bayesmix" run "$(DEMO_SPEC)" --out demo_out \
	  $$(case "$${BAYESMIX_DEMO_QUICK:-}" in ""|0|false|no) ;; *) echo --fast ;; esac)
	@cat demo_out/summary.txt

test: install-dev
	"$(VENV_PY)" -m pytest $(PYTEST_ARGS) tests

bench: install-dev
	"$(VENV_PY)" benchmarks/bench_lca.py

# The documentation site (sphinx, pydata-sphinx-theme, myst-nb, numpydoc; the dev extra has them).
# Notebooks are rendered from their stored outputs, never executed; warnings are errors.
docs: install-dev
	"$(VENV_PY)" -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

# Re-execute the case-study notebooks in FULL mode (BAYESMIX_FAST unset), overwriting their stored
# outputs: 100-replication Monte Carlo studies and 4 x 1000-draw NUTS runs, so hours, not minutes.
# One at a time, stopping at the first failure; NOTEBOOKS=case_studies/section4_lta.ipynb runs one.
# (CI executes them in fast mode only: tests/test_notebooks*.py; tests/test_full_mode_specs.py checks
# the full-mode settings they read without running them.)
NOTEBOOKS ?= $(sort $(wildcard case_studies/*.ipynb))
notebooks: install-dev
	@for nb in $(NOTEBOOKS); do \
	  echo "executing $$nb in full mode"; \
	  env -u BAYESMIX_FAST "$(VENV)/bin/jupyter-execute" --inplace --timeout=-1 --kernel_name=python3 "$$nb" \
	    || exit 1; \
	done

clean-venv:
	rm -rf "$(VENV)"
