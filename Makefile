# The two commands of the README: `make tutorial` and `make test`. Both set up .venv first if needed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PRESET ?= cpu
STAMP := $(VENV)/.installed

.PHONY: setup ffmpeg tutorial test test-learning lint lab clean

setup: $(STAMP) ffmpeg

$(STAMP): requirements.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed: install python3.11 (apt-get install python3.11 python3.11-venv)"; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); \
	  else echo "Cannot create a virtual environment: run 'sudo apt-get install python3-venv' and try again."; exit 1; fi; }
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

# torchcodec (used by pipeline("video-classification")) needs FFmpeg's shared libraries
ffmpeg:
	@if ldconfig -p 2>/dev/null | grep -q 'libavcodec\.so'; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing FFmpeg's libraries (apt-get install ffmpeg) ..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	else \
	  echo "FFmpeg's shared libraries are missing. Install them: sudo apt-get install ffmpeg (Debian/Ubuntu)," \
	       "brew install ffmpeg (macOS) or conda install -c conda-forge ffmpeg."; exit 1; \
	fi

tutorial: setup
	TQDM_MININTERVAL=5 $(PY) -m helpers.tutorial --preset $(PRESET)

test: setup
	$(VENV)/bin/ruff check helpers tests notebooks benchmarks
	PRESET=smoke TUTORIAL_OUTPUT=$$(mktemp -d) TQDM_DISABLE=1 $(PY) -m pytest -q -m "not learning" tests --nbmake notebooks

test-learning: setup
	TQDM_DISABLE=1 $(PY) -m pytest -q -m learning tests

lint: setup
	$(VENV)/bin/ruff check helpers tests notebooks benchmarks

lab: setup
	cd notebooks && ../$(VENV)/bin/jupyter lab

clean:
	rm -rf outputs
