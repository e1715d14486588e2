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

.PHONY: demo test lint install messages clean bench

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed

## Start the demo: embedded database, demo data, served on http://127.0.0.1:$(PORT)
demo: install
	PREPARE_COLLECTED_STATIC=1 $(VENV)/bin/prepare collectstatic --noinput --verbosity 0
	$(VENV)/bin/prepare demo --port $(PORT)

## Run the whole test suite (SQLite by default; set DATABASE_URL for PostgreSQL)
test: install
	$(VENV)/bin/pytest -n auto

## Benchmarks (benchmarks/README.md): generate or reuse the datasets and run every
## scenario. SQLite by default; DATABASE_URL=postgres://... for PostgreSQL, or
## BENCH_BACKENDS=sqlite,postgresql for both. Also BENCH_SIZES (100000,1000000),
## BENCH_REPEAT (40), BENCH_DIR (../benchdata), BENCH_CLIENTS (1,4,8),
## BENCH_WRITE_SECONDS (20), BENCH_WORKERS (4), BENCH_THREADS (2), BENCH_PORT (8710).
## (Variables given on the make command line reach the script's environment.)
bench: install
	$(VENV)/bin/python -m benchmarks.run

lint: install
	$(UV) lock --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy prepare

## Update the translation catalogues (prepare/locale) from the source and compile
## them. Needs GNU gettext (xgettext, msgmerge, msgfmt); the compiled .mo files are
## committed, so running PREPARE does not.
LANGUAGES := en fr nl es ca de sv
messages: install
	@command -v msgfmt >/dev/null || { echo "make messages needs GNU gettext (e.g. apt install gettext)"; exit 1; }
	cd prepare && DJANGO_SETTINGS_MODULE=prepare.settings ../$(VENV)/bin/django-admin makemessages \
		$(addprefix -l ,$(LANGUAGES)) --no-obsolete --ignore 'migrations/*' --ignore 'static/*'
	cd prepare && DJANGO_SETTINGS_MODULE=prepare.settings ../$(VENV)/bin/django-admin compilemessages

clean:
	rm -rf $(VENV) $(TOOLS) var
