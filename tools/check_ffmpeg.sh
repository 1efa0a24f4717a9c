#!/bin/sh
# Checks that FFmpeg's shared libraries load where the tutorial needs them: torchcodec, which
# pipeline("video-classification") decodes with (PyAV carries its own FFmpeg). Since torchcodec 0.16 the import
# succeeds without FFmpeg and torchcodec.ffmpeg_major_version is None, so that is what is asked.
# Usage: tools/check_ffmpeg.sh PYTHON. Run as root on Debian/Ubuntu it installs the ffmpeg package (unless
# AUTO_INSTALL=no); otherwise it prints how to install FFmpeg. Used by `make setup`.
py=${1:-.venv/bin/python}

probe() {
    "$py" -c 'import sys, torchcodec; sys.exit(0 if torchcodec.ffmpeg_major_version else 3)'
}

probe 2>/dev/null
case $? in
    0) exit 0 ;;
    3) ;;
    *)
        echo "torchcodec cannot be imported in $py:" >&2
        probe >&2
        echo "Reinstall the environment: rm -rf .venv && make setup" >&2
        exit 1
        ;;
esac

if [ "$(id -u)" = 0 ] && [ "${AUTO_INSTALL:-yes}" != no ] && command -v apt-get >/dev/null; then
    echo "Installing FFmpeg's libraries for torchcodec (apt-get install ffmpeg) ..."
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; then
        probe && exit 0
        echo "apt-get installed ffmpeg, but torchcodec still cannot load its libraries." >&2
    fi
    exit 1
fi

cat >&2 <<EOF
torchcodec (which pipeline("video-classification") decodes videos with) cannot load FFmpeg's shared libraries.
Install FFmpeg, then run make again:
  Debian/Ubuntu:     sudo apt-get install ffmpeg
  Fedora:            sudo dnf install ffmpeg-free   (RPM Fusion's ffmpeg has every codec: rpmfusion.org/Howto/Multimedia)
  macOS (Homebrew):  brew install ffmpeg
  conda:             conda install -c conda-forge ffmpeg   (in the environment whose Python built .venv)
EOF
exit 1
