# The README's commands. Each creates .venv on first use (idempotent) and installs the pinned set.
PYTHON  ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PROFILE ?= smoke
# One notebook name (without .ipynb) to run only that one, e.g. make reproduce NOTEBOOK=ota2021_size_sweep
NOTEBOOK ?=
# Runs at once inside each notebook's sweep (local processes, one torch thread each), e.g. JOBS=2
JOBS ?= 1
# 1: each notebook's sweep trains the seeds of a configuration as one population (rlcore.population)
POPULATION ?= 0
export MUJOCO_GL ?= egl
export PYTHONHASHSEED := 0

.PHONY: setup reproduce test test-fast lab benchmark clean-smoke

setup: $(STAMP)

# torch first, from the pinned CPU build, so nothing later can pull a CUDA build; then the rest with the same pins.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt pip
	$(BIN)/python -m pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[notebooks,dev,ray]"
	$(BIN)/python -m ipykernel install --sys-prefix --name rlcore --display-name "Python (rlcore)" >/dev/null
	touch $(STAMP)

# Runs every notebook (or NOTEBOOK) through papermill at PROFILE; prints where the outputs went.
reproduce: $(STAMP)
	RLCORE_JOBS=$(JOBS) RLCORE_POPULATION=$(POPULATION) $(BIN)/python -m rlcore reproduce --profile $(PROFILE) $(if $(NOTEBOOK),--notebook $(NOTEBOOK),)

# pytest-xdist workers for the unit and learning tests (each test uses one torch thread)
TEST_WORKERS ?= 2

# Whole suite: unit + learning tests (TEST_WORKERS processes), then every notebook at the smoke profile through nbval
# (one at a time, each sweep TEST_WORKERS runs at once; the claims notebook last: it reads the others' results).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup tests
	RLCORE_RESULTS=$(CURDIR)/.nbval-results RLCORE_FIGURES=$(CURDIR)/.nbval-figures RLCORE_JOBS=$(TEST_WORKERS) \
		$(BIN)/python -m pytest -q --nbval-lax -p no:cacheprovider \
		$(filter-out notebooks/claims.ipynb,$(sort $(wildcard notebooks/*.ipynb))) notebooks/claims.ipynb

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup -m "not slow" tests

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks

benchmark: $(STAMP)
	$(BIN)/python benchmarks/update_speed.py

clean-smoke:
	rm -rf results/smoke figures/smoke .nbval-results .nbval-figures
