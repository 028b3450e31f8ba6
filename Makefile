# Two commands for a fresh clone:  `make run`  and  `make test`.
# Each creates (or reuses) the virtual environment .venv itself.
PYTHON ?= $(shell command -v python3.12 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
SCENARIO ?= scenarios/east_of_england_2013.yaml
OUT    ?= results/east_of_england_2013

.PHONY: run test test-load lint bench bench-experiments docs clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: $(VENV)/.installed  ## run the default scenario: results, summary and figures in results/
	$(BIN)/commnet run $(SCENARIO) --replicates 5 --out $(OUT)

test: $(VENV)/.installed  ## lint and run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-load: $(VENV)/.installed  ## the test suite with two CPU-bound loops running beside it
	@sh -c 'yes > /dev/null & a=$$!; yes > /dev/null & b=$$!; \
	  trap "kill $$a $$b" EXIT; $(BIN)/python -m pytest -q'

bench: $(VENV)/.installed  ## the benchmark suite (model, kernel, England, phases)
	$(BIN)/python benchmarks/run.py

bench-experiments: $(VENV)/.installed  ## experiment-layer overhead and executor throughput
	$(BIN)/python benchmarks/bench_experiments.py --runs 1000

docs: $(VENV)/.installed  ## regenerate the parameter and metric references from the schema and registry
	$(BIN)/python -m simulation.reference > docs/parameters.md
	$(BIN)/python -m simulation.reference metrics > docs/metrics.md

clean:
	rm -rf $(VENV) results .pytest_cache
