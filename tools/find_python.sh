#!/bin/sh
# Prints the Python that `make setup` builds .venv with: $PYTHON if it is set, otherwise the newest of python3.13,
# python3.12, python3.11 and python3 that runs and is 3.11 to 3.13 (the versions the pinned requirements install on).
# Refuses anything else, saying what to install. Used by `make setup` and `make check-python`.
supported="3.11 3.12 3.13"

if [ -n "$PYTHON" ]; then candidates=$PYTHON; else candidates="python3.13 python3.12 python3.11 python3"; fi

found=""
for candidate in $candidates; do
    # running it, not just finding it: a pyenv shim exists for versions that are not active and fails when run
    version=$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
    for good in $supported; do
        if [ "$version" = "$good" ]; then
            command -v "$candidate"
            exit 0
        fi
    done
    found="${found:+$found, }$candidate is Python $version"
done

if [ -z "$found" ]; then
    if [ -n "$PYTHON" ]; then found="$PYTHON does not run"; else found="no python3 on your PATH"; fi
fi
cat >&2 <<EOF
This tutorial needs Python 3.11, 3.12 or 3.13 (its pinned transformers needs 3.11 or newer); found: $found.
Install one of them, then run make again:
  Debian 12, Ubuntu 22.04:  sudo apt-get install python3.11 python3.11-venv
  Ubuntu 24.04:             sudo apt-get install python3.12 python3.12-venv
  Fedora:                   sudo dnf install python3.13
  macOS (Homebrew):         brew install python@3.13
  conda:                    conda create -n py313 python=3.13 && conda activate py313
  uv (any system):          uv python install 3.13, then: make setup PYTHON=\$(uv python find 3.13)
To use a Python that is not on your PATH under one of these names: make setup PYTHON=/path/to/python3.12
EOF
exit 1
