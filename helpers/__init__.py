"""Helpers for the video classification tutorial: data, video, plots, training."""
