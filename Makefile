# gymctl: the two commands of the quick start are `make demo` and `make test`.
# Both create .venv when it is missing and (re)install the project with its compiled
# kernels whenever a build input changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.gymctl-installed
BUILD_INPUTS := pyproject.toml setup.py $(shell find kernels equipment_adapters -name '*.pyx' -o -name '*.pxd' 2>/dev/null)
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: demo test check install build clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python $(BUILD_INPUTS)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

build: $(STAMP)
	$(BIN)/python setup.py --quiet build_ext --inplace

demo: $(STAMP)
	@echo "The simulated gym (gymctl demo) does not exist yet; it comes with a later issue."
	@echo "Until then, the demo analyses the bundled example trace and load-velocity profile."
	@echo
	$(BIN)/gymctl analyze lift examples/back_squat_1khz.csv --load-kg 100 --exercise back_squat
	@echo
	$(BIN)/gymctl analyze lvp examples/lvp_back_squat.csv --exercise back_squat

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/gymctl bench kernels

clean:
	rm -rf build $(VENV) *.egg-info
	find kernels equipment_adapters -name '*.so' -delete -o -name '*.c' -path '*kernels*' -delete
