# Decided Early: the study's commands. Everything runs inside .venv, created on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.setup-stamp
export EARLYBIAS_THREADS ?= 2

.PHONY: setup book test test-fast chapter student grade bench clean

setup: $(SETUP_STAMP)

# torch is installed first and pinned exactly: any other spec pulls a multi-GB CUDA build.
$(SETUP_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[book,test]'
	touch $@

book: setup
	$(VENV)/bin/earlybias book

test: setup
	$(PY) -m pytest tests

test-fast: setup
	$(PY) -m pytest tests -m "not slow"

chapter: setup
	@test -n "$(CH)" || { echo 'usage: make chapter CH=<chapter id> P="name=value ..." [PROFILE=default] [OUT=dir]'; exit 2; }
	$(VENV)/bin/earlybias run $(CH) --profile $(or $(PROFILE),default) $(foreach p,$(P),-p $(p)) $(if $(OUT),--out $(OUT))

# The chapters as assignments: student versions (solutions and hidden tests removed), grading.
student: setup
	$(VENV)/bin/earlybias student

grade: setup
	@test -n "$(NB)" || { echo 'usage: make grade NB=<submitted notebook> [PROFILE=default|smoke] [P="name=value ..."] [OUT=graded.ipynb]'; exit 2; }
	$(VENV)/bin/earlybias grade "$(NB)" --profile $(or $(PROFILE),default) $(foreach p,$(P),-p $(p)) $(if $(OUT),--out "$(OUT)")

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf book/_build book/_vendor book/chapters runs dist
