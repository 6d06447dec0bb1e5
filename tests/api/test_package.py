"""The package installs from a fresh copy of the repository, and works from
outside it: `pip install .` and `pip install -e .` into fresh virtual
environments (with the system's site-packages, so torch is not fetched again;
--no-deps, --no-build-isolation and no index: nothing is downloaded)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def _fresh_clone(dest: Path) -> Path:
    """The files a clone of this working tree has: tracked, and new ones git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_bytes(src.read_bytes())
    return dest


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", HF_HUB_OFFLINE="1")
    return env


def _install(tmp_path: Path, *pip_args) -> tuple[Path, Path]:
    clone = _fresh_clone(tmp_path / "clone")
    venv = tmp_path / "venv"
    # --without-pip: the system's pip and setuptools (the build backend, >= 77) serve the venv; Python's
    # bundled ones may be older than pyproject.toml needs without build isolation.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True,
                   timeout=120)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                          "--no-build-isolation", *pip_args, str(clone)], env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr[-3000:]
    return venv, clone


def _outside(tmp_path: Path, venv: Path, *cmd) -> subprocess.CompletedProcess:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run(cmd, cwd=elsewhere, env=_env(), capture_output=True, text=True, timeout=120)


CHECK = ("import clipvis, clipvis.vocab as v; voc = clipvis.load_vocabulary('lvvis'); "
         "print(clipvis.__file__); print(len(voc), voc.classes[0].category_json()); "
         "print(clipvis.load_vocabulary('coco').categories()[2].to_json())")


@pytest.mark.parametrize("editable", [False, True], ids=["install", "editable"])
def test_pip_install_then_use_from_outside_the_repository(tmp_path, editable):
    venv, clone = _install(tmp_path, *(["-e"] if editable else []))
    helped = _outside(tmp_path, venv, str(venv / "bin" / "clipvis"), "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: clipvis") and "label" in helped.stdout
    label_help = _outside(tmp_path, venv, str(venv / "bin" / "clipvis"), "label", "--help")
    assert "--frames-dir" in label_help.stdout and "--format {dataset,results,cocovid}" in label_help.stdout

    ran = _outside(tmp_path, venv, str(venv / "bin" / "python"), "-c", CHECK)
    assert ran.returncode == 0, ran.stderr
    where, count, coco_car = ran.stdout.splitlines()
    home = clone if editable else venv
    assert Path(where).resolve().is_relative_to(home.resolve()), where  # the installed copy, not this checkout
    assert count.startswith("1196 {'id': 1, 'name': 'accordion', 'supercategory': 'object', 'partition': 3}")
    assert coco_car == "{'id': 3, 'name': 'car', 'supercategory': 'vehicle'}"

    if not editable:  # the wheel's metadata: licence, console script, extras
        meta = _outside(tmp_path, venv, str(venv / "bin" / "python"), "-c",
                        "import importlib.metadata as m; d = m.distribution('clipvis'); "
                        "print(d.metadata['License-Expression']); print(sorted(d.metadata.get_all('Provides-Extra')));"
                        "print([e.name for e in d.entry_points]); "
                        "print(sorted(str(f) for f in d.files if 'vocabularies' in str(f)))")
        lic, extras, scripts, data = meta.stdout.splitlines()
        assert lic == "Apache-2.0" and extras == "['app', 'dev', 'supervision']" and scripts == "['clipvis']"
        assert all(f"clipvis/vocabularies/{n}.json" in data for n in ("lvvis", "coco", "ytvis2019", "burst"))
