# Two entry points; each sets up everything it needs on a fresh machine.
#   make run    the main job: build the book (offline, from the committed outputs)
#   make test   the test suite: pytest, nbval on every chapter (quick profile), book build,
#               every page checked in headless Chromium (Debian: chromium chromium-driver)
#   make setup  the virtual environment alone (.venv), for running chapters on a laptop
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export MSCAD_DATA ?= $(abspath data)

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed

book: setup
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "Open $(abspath _build/html/index.html) in a browser."

run: book

dn2: setup
	$(PY) -m mscad run --dataset cifar10 --normal-class airplane --objective dn2 \
		--out results/dn2/cifar10-airplane.json

test: setup
	$(PY) -m pytest -q tests
	rm -rf _build/run-cache  # chapters share runs through a run cache that starts empty
	MSCAD_PROFILE=quick MSCAD_CACHE=$(abspath _build/run-cache) $(PY) -m pytest -q -p no:cacheprovider --nbval-lax book/
	# every plain edition run as a student runs it, its prose checked against its own outputs
	MSCAD_EDITIONS=all MSCAD_CACHE=$(abspath _build/run-cache) $(PY) -m pytest -q -p no:cacheprovider tests/test_editions.py -k executed
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	$(PY) book/check_pages.py _build/html  # offline pages, checked in headless Chromium

.PHONY: setup book run dn2 test
