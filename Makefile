# Two entry points; each sets up everything it needs on a fresh machine.
#   make run    the main job (see README)
#   make test   the test suite
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

run: setup
	$(PY) -m mscad run --dataset cifar10 --normal-class airplane --objective dn2 \
		--out results/dn2/cifar10-airplane.json

test: setup
	$(PY) -m pytest -q tests

.PHONY: setup run test
