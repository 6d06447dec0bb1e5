"""The SAM 2 loader on files the tests write: a Hugging Face cache laid out as
the Hub client leaves it, a plain folder, broken folders, and no model at all
with downloads off (tests run with HF_HUB_OFFLINE=1)."""
from __future__ import annotations

import os

import numpy as np
import pytest
from safetensors.torch import load_file, save_file

from clipvis.prompt import (DEFAULT_SAM_MODEL, SAM_MODEL_ENV, Prompt, SamModelUnavailable, fetch_sam_model,
                            load_prompt_tracker, sam_model_name)
from tests.prompt.tiny_sam import squares_video, tiny_sam_processor

REPO = "clipvis-test/tiny-sam2"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def write_model(folder, sam_model, *, processor=True):
    folder.mkdir(parents=True, exist_ok=True)
    sam_model.save_pretrained(folder)
    if processor:
        tiny_sam_processor().save_pretrained(folder)
    return folder


def hub_cache(tmp_path, sam_model):
    """A Hub cache holding REPO, as `hf download` leaves it."""
    cache = tmp_path / "hub"
    repo = cache / ("models--" + REPO.replace("/", "--"))
    write_model(repo / "snapshots" / COMMIT, sam_model)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return cache


def click_mask(tracker):
    return tracker.session(squares_video(3)).prompt(1, Prompt.click(30, 30)).mask


def test_offline_with_an_empty_cache_names_the_repository_and_where_to_put_it(tmp_path):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    with pytest.raises(SamModelUnavailable) as e:
        load_prompt_tracker(DEFAULT_SAM_MODEL, cache_dir=tmp_path, device="cpu")
    message = str(e.value)
    for words in (DEFAULT_SAM_MODEL, str(tmp_path), f"hf download {DEFAULT_SAM_MODEL}", "--sam-model",
                  SAM_MODEL_ENV, "model.safetensors"):
        assert words in message


def test_no_network_names_the_repository_too(tmp_path, monkeypatch):
    import clipvis.prompt.hub as hub
    from clipvis.weights import WeightsUnavailable

    def no_network(host, how):
        raise WeightsUnavailable(f"no network to reach {host} (unreachable). {how}")

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("CLIPVIS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "_check_network", no_network)  # the test never reaches for the network
    with pytest.raises(SamModelUnavailable) as e:
        fetch_sam_model("facebook/sam2.1-hiera-small", cache_dir=tmp_path)
    assert "facebook/sam2.1-hiera-small is not in the Hugging Face cache and no network" in str(e.value)
    assert str(tmp_path) in str(e.value) and "--sam-model" in str(e.value)


def test_loads_from_the_hub_cache_through_the_real_path(tmp_path, sam_model, tracker):
    cache = hub_cache(tmp_path, sam_model)
    assert fetch_sam_model(REPO, cache_dir=cache) == cache / f"models--{REPO.replace('/', '--')}" / "snapshots" / COMMIT
    loaded = load_prompt_tracker(REPO, cache_dir=cache, device="cpu", precision="fp32")
    assert loaded.name == REPO and loaded.precision == "fp32"
    assert np.array_equal(click_mask(loaded), click_mask(tracker))  # the same weights, the same preprocessing


def test_a_folder_and_the_environment_variable(tmp_path, sam_model, tracker, monkeypatch):
    folder = write_model(tmp_path / "my sam", sam_model, processor=False)  # no processor files: built from config
    monkeypatch.setenv(SAM_MODEL_ENV, str(folder))
    assert sam_model_name() == str(folder) and sam_model_name("x/y") == "x/y"
    loaded = load_prompt_tracker(device="cpu", precision="fp32")
    assert np.array_equal(click_mask(loaded), click_mask(tracker))
    monkeypatch.delenv(SAM_MODEL_ENV)
    assert sam_model_name() == DEFAULT_SAM_MODEL


def test_folders_without_usable_weights_are_refused(tmp_path, sam_model):
    folder = write_model(tmp_path / "m", sam_model)
    weights = load_file(folder / "model.safetensors")
    os.rename(folder / "model.safetensors", folder / "pytorch_model.bin")  # a pickle is never read
    with pytest.raises(SamModelUnavailable, match="lacks model.safetensors"):
        load_prompt_tracker(str(folder), device="cpu")
    os.remove(folder / "pytorch_model.bin")
    dropped = sorted(weights)[0]
    save_file({k: v for k, v in weights.items() if k != dropped}, folder / "model.safetensors",
              metadata={"format": "pt"})
    with pytest.raises(SamModelUnavailable, match=f"1 missing keys: {dropped}"):
        load_prompt_tracker(str(folder), device="cpu")
    save_file({**weights, dropped: weights[dropped].flatten()[:3].clone()}, folder / "model.safetensors",
              metadata={"format": "pt"})
    with pytest.raises(SamModelUnavailable, match=f"mismatched keys: {dropped} \\(file \\(3,\\)"):
        load_prompt_tracker(str(folder), device="cpu")


def test_a_name_that_is_neither_folder_nor_repository(tmp_path):
    with pytest.raises(SamModelUnavailable, match="neither a folder nor a Hugging Face repository"):
        fetch_sam_model(str(tmp_path / "missing" / "deeper" / "x"))
