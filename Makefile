# OSPatrol: `make run` sets everything up and audits the local lab; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LAB_DIR ?= var/lab
STAMP := $(VENV)/.installed
# The analysis engine's hot modules, compiled by mypyc when they change (ospatrol/analysis/native.py).
HOT := $(addprefix ospatrol/analysis/,correlation.py decoding.py engine.py eventinfo.py \
	matchers.py native.py patterns.py predecode.py)
NATIVE := ospatrol/analysis/_native/manifest.json

.PHONY: install run test lint clean

$(STAMP): pyproject.toml lab/pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The product with its optional accelerators (and mypy, which builds one), its test tools,
	# and the lab (its own distribution in lab/), all editable.
	$(BIN)/python -m pip install -q -e '.[fast,native,test]' -e ./lab
	# fake-switches pins Twisted 16, which does not build on Python 3.11: install it without
	# its pins; the lab declares the libraries it really needs.
	$(BIN)/python -m pip install -q --no-deps 'fake-switches==1.5.0'
	touch $(STAMP)

$(NATIVE): $(STAMP) $(HOT)
	$(BIN)/python -c 'import sys; from ospatrol.analysis.native import main; sys.exit(main())'

install: $(STAMP) $(NATIVE)
	scripts/system-deps.sh

run: install
	scripts/run-lab.sh $(BIN)/ospatrol $(LAB_DIR)

test: install
	scripts/system-deps.sh --test
	$(BIN)/python -m pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) var build dist ospatrol/analysis/_native
