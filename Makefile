VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_RUN ?= runs/demo

.PHONY: demo test format setup clean

# torch first, pinned: on a CPU machine this takes the CPU build; the rest then sees it installed.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(PY) -m pytest tests

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

demo: $(STAMP)
	$(VENV)/bin/semiqc synth --preset demo --out $(DEMO_RUN)/cohort --seed 0 --montage
	$(VENV)/bin/semiqc experiment --preset demo --cohort $(DEMO_RUN)/cohort --out $(DEMO_RUN)

clean:
	rm -rf $(VENV) runs
