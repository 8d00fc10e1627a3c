# Two entry points on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test docs bench bench-dask bench-dask-check bench-curve bench-curve-methods bench-levers bench-convokit bench-moves lint clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	# the real ConvoKit for the corpus tests, without its heavy dependency list
	$(BIN)/pip install --quiet --no-deps convokit==5.0.0
	touch $(STAMP)

install: $(STAMP)

# The held-out pages: no model trains on them, so the report shows real predictions
# and how far they agree with the human labels.
demo: $(STAMP)
	mkdir -p out
	$(BIN)/stance report seeds/heldout -o out/report.html
	$(BIN)/stance report seeds/heldout -o out/report.md
	@echo "report written: out/report.html (and out/report.md)"

test: $(STAMP)
	$(BIN)/pytest -q

# The one run that rewrites generated doc tables (make test only checks them).
docs: $(STAMP)
	STANCE_UPDATE_DOCS=1 $(BIN)/pytest -q tests/test_cli.py -k every_command_refuses

bench: $(STAMP)
	$(BIN)/python bench/run.py

# The Dask path (issue 19): cold encoding 1 vs 2 workers, cache hits at 1M and
# 3M turns on a 2-worker LocalCluster, single-process peak RSS at 100k vs 1M,
# dedup of 100k turns on Dask vs one process. Results go in BENCHMARKS.md by hand.
bench-dask: $(STAMP)
	$(BIN)/python bench/dask_bench.py cold
	$(BIN)/python bench/dask_bench.py dedup
	$(BIN)/python bench/dask_bench.py flat
	$(BIN)/python bench/dask_bench.py hits --parsed

# The done-when check: a real `dask scheduler` and two `dask worker` processes.
bench-dask-check: $(STAMP)
	$(BIN)/python bench/dask_cluster_check.py

bench-curve: $(STAMP)
	$(BIN)/python bench/learning_curve.py

bench-levers: $(STAMP)
	$(BIN)/python bench/levers.py

bench-convokit: $(STAMP)
	$(BIN)/python bench/convokit_bench.py

# The schema's known moves against the shipped labelled turns (BENCHMARKS.md).
bench-moves: $(STAMP)
	$(BIN)/python bench/moves_bench.py

bench-curve-methods: $(STAMP)
	$(BIN)/python bench/learning_curve.py --methods --seeds 1 --sizes 400,800,1600,3000

lint: $(STAMP)
	$(BIN)/ruff check stance tests bench
