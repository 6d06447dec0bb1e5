"""Atomic writes: all or nothing, and no temporary files left behind."""
from __future__ import annotations

import json
import os
import stat

import pytest

from clipvis.atomic import atomic_dir, atomic_path, write_bytes, write_json, write_text


def test_writes_and_replaces(tmp_path):
    p = write_text(tmp_path / "sub" / "a.txt", "one")
    write_text(p, "two")
    assert p.read_text() == "two"
    write_json(tmp_path / "b.json", {"x": [1, None]})
    assert json.loads((tmp_path / "b.json").read_text()) == {"x": [1, None]}
    assert write_bytes(tmp_path / "c.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["b.json", "c.bin", "sub"]


def test_mode_follows_the_umask_not_mkstemp(tmp_path):
    old = os.umask(0o022)
    try:
        p = write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o644


def test_failure_keeps_the_old_file(tmp_path):
    p = write_json(tmp_path / "a.json", {"ok": 1})
    with pytest.raises(ValueError):
        write_json(p, {"bad": float("nan")})  # refused before the disk is touched
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer died")
    assert json.loads(p.read_text()) == {"ok": 1}
    assert [x.name for x in tmp_path.iterdir()] == ["a.json"]


def test_atomic_dir(tmp_path):
    target = tmp_path / "out"
    with atomic_dir(target) as d:
        (d / "1").write_text("a")
    with pytest.raises(KeyError):
        with atomic_dir(target) as d:
            (d / "2").write_text("b")
            raise KeyError("stop")
    assert [x.name for x in target.iterdir()] == ["1"]
    with atomic_dir(target) as d:
        (d / "3").write_text("c")
    assert [x.name for x in target.iterdir()] == ["3"]
    assert [x.name for x in tmp_path.iterdir()] == ["out"]
