# The two commands a newcomer needs: `make demo` and `make test`. Both bootstrap everything
# (system packages through apt-get when root, .venv, the project) on a fresh Debian / Pi OS.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.zonegate-installed

.PHONY: demo test lint typecheck check bench clean venv

$(STAMP): pyproject.toml scripts/bootstrap.sh
	PY=$(PY) bash scripts/bootstrap.sh
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/zonegate demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

bench: $(STAMP)
	for b in bench/*.py; do $(VENV)/bin/python $$b --json || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
