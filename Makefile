# gymctl: the two commands of the quick start are `make demo` and `make test`.
# Both create .venv when it is missing and (re)install the project with its compiled
# kernels whenever a build input changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.gymctl-installed
BUILD_INPUTS := pyproject.toml setup.py $(shell find kernels equipment_adapters -name '*.pyx' -o -name '*.pxd' -o -name '*.h' 2>/dev/null)
DEMO_ARGS ?=
PYTEST_ARGS ?=
FUZZ_ARGS ?= --runs 100000
FUZZ_STAMP := $(VENV)/.gymctl-fuzz

.PHONY: demo test check install build clean bench screenshots fuzz

# The panel's front-end libraries (htmx, uPlot, Swagger UI) come from npm, pinned by
# package-lock.json, and are copied into web_ui/static/vendor/ (not committed): the panel
# serves them itself because a gym's network has no internet. Install scripts are not run.
VENDOR := web_ui/static/vendor
VENDOR_STAMP := $(VENDOR)/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python $(BUILD_INPUTS)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(VENDOR_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/htmx $(VENDOR)/uplot $(VENDOR)/swagger-ui
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx.org/LICENSE $(VENDOR)/htmx/
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css \
	   node_modules/uplot/LICENSE $(VENDOR)/uplot/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
	   node_modules/swagger-ui-dist/LICENSE node_modules/swagger-ui-dist/NOTICE $(VENDOR)/swagger-ui/
	node -p 'const l = require("./package-lock.json").packages; JSON.stringify(Object.fromEntries(["htmx.org", "uplot", "swagger-ui-dist"].map((n) => [n, l["node_modules/" + n].version])))' > $(VENDOR)/versions.json
	touch $@

install: $(STAMP) $(VENDOR_STAMP)

# rebuilds the compiled kernels in place, in pip's build environment (the venv's own
# setuptools may be older than pyproject.toml's build requirement)
build: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps -e .

demo: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/gymctl demo $(DEMO_ARGS)

test: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/gymctl bench kernels

# The long fuzz run (docs/fuzzing.md): atheris on every target, one process per target.
$(FUZZ_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,fuzz]'
	touch $@

fuzz: $(FUZZ_STAMP)
	$(BIN)/python -m benchmarks.fuzz $(FUZZ_ARGS)

screenshots: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/python -m tests.web_ui.screenshots docs/screenshots

clean:
	rm -rf build $(VENV) *.egg-info node_modules $(VENDOR)
	find kernels equipment_adapters -name '*.so' -delete -o -name '*.c' -path '*kernels*' -delete
