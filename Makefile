# The two commands of the README. Everything else here serves them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
WEB_HOST ?= 127.0.0.1
WEB_PORT ?= 8000
export WEB_HOST WEB_PORT

.PHONY: run test lint setup migrate messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

setup: $(VENV)/.installed
	$(BIN)/python scripts/ensure_secret_key.py
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py ensureadmin

## make run: install into .venv, migrate, create an admin if none, start web + worker + beat (Ctrl-C stops all)
run: setup
	@echo ""
	@echo "  OpsPortal is starting: open http://$(WEB_HOST):$(WEB_PORT)/admin/"
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/run_procfile.py --procfile Procfile --app-root . start

## make test: install dev requirements into .venv if needed, run the whole pytest suite and ruff
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

## make messages: after adding or changing user-facing strings, refresh locale/*/django.po (translations kept),
## then fill the new empty or fuzzy msgstr entries and run it again to compile the .mo; commit both files. It does
## the same for our catalog of django-celery-beat's strings (opsportal/i18n/third_party/locale), from the installed
## version: after upgrading django-celery-beat, translate what it added there.
## Needs GNU gettext (apt-get install gettext). `make test` fails while a string is missing or untranslated.
messages: $(VENV)/.installed
	$(BIN)/python scripts/ensure_secret_key.py
	$(BIN)/python manage.py updatelocale
