# PREPARE: the two commands of the quick start, and the checks CI runs.
# Needs only Python 3.11, git and make; everything else is installed here.

PYTHON ?= python3
PORT ?= 8000
VENV := .venv
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.8
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1

.PHONY: demo test lint install messages clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed

## Start the demo: embedded database, demo data, served on http://127.0.0.1:$(PORT)
demo: install
	$(VENV)/bin/prepare demo --port $(PORT)

## Run the whole test suite (SQLite by default; set DATABASE_URL for PostgreSQL)
test: install
	$(VENV)/bin/pytest -n auto

lint: install
	$(UV) lock --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy prepare

messages: install
	cd prepare && ../$(VENV)/bin/django-admin makemessages --all --no-obsolete --ignore 'migrations/*'
	cd prepare && ../$(VENV)/bin/django-admin compilemessages

clean:
	rm -rf $(VENV) $(TOOLS) var
