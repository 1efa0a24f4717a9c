# The two commands of the README: `make tutorial` and `make test`. Both set up .venv first if needed.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PRESET ?= cpu
# EDITION=ko: make tutorial runs the Korean edition (notebooks/ko/) into outputs/ko/<preset>/
EDITION ?= en
STAMP := $(VENV)/.installed
# PYTHON=/path/to/python3.12 builds .venv with that Python; unset, tools/find_python.sh picks the newest of 3.11-3.13
PYTHON ?=
FIND_PYTHON = PYTHON='$(PYTHON)' tools/find_python.sh
# AUTO_INSTALL=no: never run apt-get, even as root (which installs python3.X-venv and ffmpeg when they are missing)
AUTO_INSTALL ?= yes
CHECK_FFMPEG = AUTO_INSTALL='$(AUTO_INSTALL)' tools/check_ffmpeg.sh $(PY)
# TORCH=cpu (Linux): PyTorch's CPU-only wheels from its own index, about 4.5 GB less than PyPI's CUDA build.
# Not exercised by CI (that index is not reachable from the machines this project is tested on).
TORCH ?=
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
# requirements.txt's torch and torchvision pins with the CPU builds' label: torch==2.14.1+cpu torchvision==0.29.2+cpu
TORCH_CPU_PINS = $(shell sed -nE 's/^(torch|torchvision)==([^ ]+)$$/\1==\2+cpu/p' requirements.txt)
IS_ROOT := $(filter 0,$(shell id -u))

.PHONY: setup check-python check-ffmpeg git-filter tutorial prepare student test test-learning lint lab clean

setup: $(STAMP)
	@$(CHECK_FFMPEG)
ifeq ($(TORCH),cpu)
	@$(PY) -c "import importlib.metadata as m, sys; sys.exit('+cpu' not in m.version('torch'))" || { \
	  echo "$(VENV) already holds PyTorch's default build. For the CPU-only one: rm -rf $(VENV) && make setup TORCH=cpu"; exit 1; }
endif

# An existing .venv of a supported Python is kept (pip updates it when requirements.txt changes); one of another
# Python, or none, is (re)made with the Python tools/find_python.sh picks.
$(STAMP): requirements.txt pyproject.toml
ifneq ($(filter-out cpu,$(TORCH)),)
	@echo "TORCH=$(TORCH): only TORCH=cpu (or nothing, for the tested default) is known"; exit 1
endif
ifeq ($(TORCH),cpu)
	@[ "$$(uname -s)" = Linux ] || { echo "TORCH=cpu is for Linux: PyPI's torch for $$(uname -s) is already CPU-only. Run make setup"; exit 1; }
endif
	@if ! $(PY) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info < (3, 14))' 2>/dev/null; then \
	  python=$$($(FIND_PYTHON)) || exit 1; \
	  echo "Creating $(VENV) with $$python ($$($$python -V 2>&1))"; \
	  $$python -m venv --clear $(VENV) 2>/dev/null || { \
	    venv_package=python$$($$python -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv; \
	    if [ -n "$(IS_ROOT)" ] && [ "$(AUTO_INSTALL)" != no ] && command -v apt-get >/dev/null; then \
	      echo "Installing $$venv_package (apt-get) ..."; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$venv_package >/dev/null \
	        && $$python -m venv --clear $(VENV); \
	    else echo "$$python cannot create a virtual environment. On Debian/Ubuntu: sudo apt-get install $$venv_package"; \
	      exit 1; fi; }; \
	fi
	$(PY) -m pip install --quiet --upgrade pip
ifeq ($(TORCH),cpu)
	$(PY) -m pip install --quiet --no-deps --index-url $(TORCH_CPU_INDEX) $(TORCH_CPU_PINS)
endif
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@$(MAKE) --no-print-directory git-filter
	@touch $@

# Python for .venv: prints the one `make setup` would use, or refuses with what to install
check-python:
	@python=$$($(FIND_PYTHON)) && echo "$$python ($$($$python -V 2>&1))"

check-ffmpeg:
	@$(CHECK_FFMPEG)

# Notebooks are committed without outputs: in a git checkout, `git add` passes them through nbstripout
# (.gitattributes routes *.ipynb to this filter), so what a learner saves in JupyterLab stays out of commits
git-filter:
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  git config filter.nbstripout.clean '"$(abspath $(PY))" -m nbstripout --keep-id' && \
	  git config filter.nbstripout.smudge cat; fi

tutorial: setup
	TQDM_MININTERVAL=5 $(PY) -m helpers.tutorial --preset $(PRESET) --edition $(EDITION)

# A shared install (docs/teaching.md): the preset's data and start checkpoints in data/, made once; learners only read
# them, and write into their own folder ($TUTORIAL_OUTPUT, by default ~/videomae-outputs where outputs/ is read-only)
prepare: setup
	$(PY) -m helpers.tutorial --prepare --preset $(PRESET)

# The student edition of both languages (docs/teaching.md): the notebooks with every exercise's solution replaced by
# a stub that raises NotImplementedError, outputs cleared, into $(STUDENT_DIR)/en and $(STUDENT_DIR)/ko
STUDENT_DIR ?= outputs/student
student: setup
	$(PY) tools/student.py --out "$(STUDENT_DIR)"

# pytest runs the notebooks too: the English ones twice in one kernel (tests/test_notebooks.py), the Korean ones
# (the same code, tests/test_editions.py) once under nbmake
test: setup
	$(VENV)/bin/ruff check helpers tests notebooks benchmarks tools
	PRESET=smoke TUTORIAL_OUTPUT=$$(mktemp -d) TQDM_DISABLE=1 $(PY) -m pytest -q -m "not learning" tests \
	  --nbmake notebooks/ko/*.ipynb

test-learning: setup
	TQDM_DISABLE=1 $(PY) -m pytest -q -m learning tests

lint: setup
	$(VENV)/bin/ruff check helpers tests notebooks benchmarks tools

# JupyterLab on the whole project, so that the results in outputs/ open too; its file browser starts in notebooks/.
# LAB_ARGS passes more options, e.g. make lab LAB_ARGS="--no-browser --port 8890"
lab: setup
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" --FileContentsManager.preferred_dir=notebooks \
	  $(if $(IS_ROOT),--allow-root) $(LAB_ARGS)

clean:
	rm -rf outputs
