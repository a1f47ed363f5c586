# kdlab: the README's commands. `make lab` opens the course, `make test` passes every test.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.kdlab-installed
# JupyterLab refuses to run as root without this flag (containers, CI machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PORT ?= 8888
DATASET ?= fashion-mnist

.PHONY: lab test lint book bench cache data clean-cache help
.DEFAULT_GOAL := help

help:
	@echo "make lab    open the course in JupyterLab (creates .venv on first run)"
	@echo "make test   run every test: unit, property and notebooks (KDLAB_PROFILE=ci)"
	@echo "make book   build the website into book/_build/html"
	@echo "make bench  measure speed; writes benchmarks/results/*.md"
	@echo "make cache  train every model of the course once (KDLAB_PROFILE, KDLAB_CACHE)"

# The default data set, checked first (standard library only, so before the venv exists):
# found -> go on; online -> downloaded once, checksums verified; else -> the fix, in seconds.
data:
	@$(PYTHON) -m kdlab.sources ensure $(DATASET)

# A fresh venv with kdlab (editable) and its pinned dependencies. Rebuilt when pyproject changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,book]"
	touch $(STAMP)

venv: $(STAMP)

lab: data $(STAMP)
	@echo "Opening JupyterLab on notebooks/ (profile: $${KDLAB_PROFILE:-laptop}). Ctrl-C stops it."
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG)

test: data $(STAMP)
	$(VENV)/bin/ruff check .
	bash book/fetch_assets.sh
	KDLAB_PROFILE=ci $(PY) -m pytest --nbval-lax -p no:cacheprovider

# The website (Jupyter Book 1, offline: MathJax and the widget scripts are served locally).
book: data $(STAMP)
	bash book/fetch_assets.sh
	$(VENV)/bin/jupyter-book build . --config book/_config.yml --toc book/_toc.yml \
		--path-output book -W --keep-going
	@echo "Open book/_build/html/index.html"

bench: $(STAMP)
	KDLAB_PROFILE=$${KDLAB_PROFILE:-ci} $(PY) benchmarks/run.py

# For an instructor: every model the course trains, into $$KDLAB_CACHE (see README).
cache: data $(STAMP)
	$(PY) -m kdlab.cache warm --profile $${KDLAB_PROFILE:-laptop}

clean-cache:
	rm -rf data/cache
