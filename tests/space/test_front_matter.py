"""The README's front matter is what Hugging Face Spaces builds from: it must
name the Gradio the tests ran on (requirements.txt's pin), a Python, and an
app file that exists."""
from __future__ import annotations

import re

import yaml

from clipvis.prompt.hub import DEFAULT_SAM_MODEL
from tests.conftest import REPO


def front_matter() -> dict:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert m, "README.md must start with a YAML front matter block between --- lines"
    return yaml.safe_load(m.group(1))


def pinned(package: str) -> str:
    for line in (REPO / "requirements.txt").read_text().splitlines():
        m = re.match(rf"^{re.escape(package)}==([^\s#;]+)", line.strip(), re.I)
        if m:
            return m.group(1)
    raise AssertionError(f"requirements.txt pins no {package}==<version>")


def test_sdk_version_is_the_pinned_gradio():
    fm = front_matter()
    assert fm["sdk"] == "gradio"
    assert str(fm["sdk_version"]) == pinned("gradio")


def test_python_version_and_app_file():
    fm = front_matter()
    assert isinstance(fm["python_version"], str), "quote it: 3.10 unquoted is the float 3.1"
    assert re.fullmatch(r"3\.\d+(\.\d+)?", fm["python_version"])
    assert (REPO / fm["app_file"]).is_file()


def test_hardware_and_preloaded_models():
    fm = front_matter()
    assert fm["suggested_hardware"] in {"cpu-basic", "cpu-upgrade", "t4-small", "t4-medium", "l4x1", "l4x4",
                                        "a10g-small", "a10g-large", "a100-large"}
    # The click-to-track model (a Hub repository) is in the image before the first visitor asks for it.
    preloaded = [entry.split()[0] for entry in fm.get("preload_from_hub", [])]
    assert DEFAULT_SAM_MODEL in preloaded
