"""Building the C kernels: cached per machine, atomic, and a clean fallback to
the PyTorch paths when there is no compiler or it fails."""
from __future__ import annotations

import logging

import pytest

import clipvis.native.build as build


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty library cache and no libraries loaded in this process."""
    monkeypatch.setenv("CLIPVIS_CACHE", str(tmp_path))
    monkeypatch.setattr(build, "_loaded", {})
    return tmp_path / "native"


needs_compiler = pytest.mark.skipif(build.find_compiler() is None, reason="no C compiler on this machine")


@needs_compiler
def test_builds_once_into_the_cache_then_reuses_it(fresh, monkeypatch):
    lib = build.load_library("deform_sample")
    assert lib is not None and lib.deform_sample_parallel() in (0, 1)
    built = sorted(fresh.iterdir())
    assert [p.suffix for p in built] == [".so"] and built[0].name.startswith("deform_sample-")

    def no_compiler(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(build, "_loaded", {})  # a new process: same cache, nothing loaded
    monkeypatch.setattr(build.subprocess, "run", no_compiler)
    monkeypatch.setattr(build, "_fingerprint", lambda source, compiler, flags: built[0].name[len("deform_sample-"):-3])
    assert build.load_library("deform_sample") is not None


@needs_compiler
def test_the_cache_key_changes_with_the_source_and_the_flags():
    compiler = build.find_compiler()
    a = build._fingerprint(b"int f(void);", compiler, ["-O3"])
    assert a != build._fingerprint(b"int g(void);", compiler, ["-O3"])
    assert a != build._fingerprint(b"int f(void);", compiler, ["-O2"])


def test_disabled_by_the_environment(fresh, monkeypatch):
    monkeypatch.setenv("CLIPVIS_NATIVE", "0")
    assert build.load_library("deform_sample") is None
    assert not fresh.exists()


def test_no_compiler_warns_once_and_falls_back(fresh, monkeypatch, caplog):
    monkeypatch.setattr(build, "find_compiler", lambda: None)
    with caplog.at_level(logging.WARNING, logger=build.__name__):
        assert build.load_library("winograd") is None
        assert build.load_library("winograd") is None
    assert sum("no C compiler" in r.getMessage() for r in caplog.records) == 1


def test_a_failing_compiler_leaves_nothing_behind(fresh, monkeypatch, tmp_path, caplog):
    cc = tmp_path / "broken-cc"
    cc.write_text("#!/bin/sh\necho 'cc: internal error' >&2\nexit 1\n")
    cc.chmod(0o755)
    monkeypatch.setattr(build, "find_compiler", lambda: str(cc))
    with caplog.at_level(logging.WARNING, logger=build.__name__):
        assert build.load_library("deform_sample") is None
    assert "internal error" in caplog.text and "PyTorch path" in caplog.text
    assert not fresh.exists() or list(fresh.iterdir()) == []  # no half-written library
