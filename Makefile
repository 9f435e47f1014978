# creator-enrich: `make demo` runs the main job on the embedded default; `make test` passes the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo serve cluster test lint typecheck pytest audit bench clean

install: $(STAMP)

# setuptools: the venv seeds 65.x, which has CVE-2024-6345 and CVE-2025-47273.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 'setuptools>=78.1.1'
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	bash scripts/demo.sh

serve: install
	bash scripts/serve.sh

# PostgreSQL + Redis + API + 2 worker processes on loopback; Ctrl-C stops them all.
cluster: install
	bash scripts/cluster.sh run

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

# Known vulnerabilities (PyPI's advisory data) in every installed package but our own editable
# one; needs network to PyPI. A package the service does not know is listed as skipped.
audit: install
	$(BIN)/pip-audit --skip-editable --progress-spinner off

# The one command CI runs: quality gates, then the whole suite.
test: lint typecheck pytest

# Upload to finished through a real server, per mode, with the floor, a bare upload and wrk on
# status (bench/RESULTS.md). Stores are generated once under ~/.cache/ce-bench. Sizes are options:
#   make bench BENCH_CREATORS=100000,1000000 BENCH_ROWS=10000 BENCH_BIG_MODES=raw,full
BENCH_CREATORS ?= 20000
BENCH_ROWS ?= 10000
BENCH_MODES ?= raw,basic,advanced,full
BENCH_BIG_MODES ?= raw
bench: install
	$(BIN)/python bench/end_to_end.py --creators $(BENCH_CREATORS) --rows $(BENCH_ROWS) \
		--modes $(BENCH_MODES) --big-modes $(BENCH_BIG_MODES)

clean:
	rm -rf demo-data demo-out cluster-data .pytest_cache .mypy_cache .ruff_cache
