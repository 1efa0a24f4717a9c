"""Helpers for the video classification tutorial: data, video, plots, training."""

from helpers import compat  # noqa: F401  (every change to other libraries, applied by importing any helpers module)
