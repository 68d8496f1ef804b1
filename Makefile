# Studio's developer entry points. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# pytest-xdist workers for make test (the CI machine has 2 cores).
TEST_WORKERS ?= 2

.PHONY: run test bench catalog lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(STAMP)
	$(BIN)/studio

test: $(TEST_STAMP)
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

bench: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python bench/core.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/editor.py
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python bench/train.py
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python bench/scale.py

catalog: $(STAMP)
	$(BIN)/python tools/generate_catalog.py
	$(BIN)/python tools/generate_training_catalog.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check studio tests bench tools

clean:
	rm -rf $(VENV) build *.egg-info
