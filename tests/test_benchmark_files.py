"""The benchmark's files are what the benchmarks say they are: UCF-101's size, codec, frame rate and bitrate."""

from __future__ import annotations

import hashlib

import helpers.synthetic
from benchmarks.common import describe_file, file_facts, make_files


def test_files_read_back_as_ucf_shaped_mpeg4_at_several_hundred_kbit_s(tmp_path):
    paths, labels = make_files(tmp_path, 2, seconds=2.0, classes=2)
    assert labels == [0, 1]
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == ["Class0/v_Class0_g00_c01.avi",
                                                                  "Class1/v_Class1_g01_c01.avi"]
    for path in paths:
        facts = file_facts(path)
        assert (facts["width"], facts["height"], facts["codec"], facts["fps"]) == (320, 240, "mpeg4", 25.0)
        assert facts["frames"] == 50
        assert 300 <= facts["kbit_s"] <= 1200, describe_file(path)
    assert "320x240 mpeg4" in describe_file(paths[0])


def test_file_is_the_same_for_the_same_index_whatever_the_tutorial_draws(tmp_path, monkeypatch):
    # one file is drawn in this process (no worker processes), so the patches below reach the drawing
    [first], _ = make_files(tmp_path / "first", 1, seconds=1.0)
    monkeypatch.setattr(helpers.synthetic, "WIDTH", 96)
    monkeypatch.setattr(helpers.synthetic, "HEIGHT", 72)
    monkeypatch.setattr(helpers.synthetic, "GRAIN", 40)
    [again], _ = make_files(tmp_path / "again", 1, seconds=1.0)
    assert file_facts(first)["frames"] == 25
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(again.read_bytes()).digest()
