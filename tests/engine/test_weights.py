"""Loading weights: strict keys, clear errors, the registry, our own format."""
from __future__ import annotations

import socket

import pytest
import torch

from clipvis import CHECKPOINTS, CheckpointMismatch, WeightsUnavailable, load_predictor
from clipvis.build import UnknownCLIPModel, build_model, create_clip, register_clip_config
from clipvis.weights import load_into, read_state_dict, save_checkpoint

from tests.conftest import make_tiny_checkpoint


def test_registry_names_the_four_released_checkpoints():
    assert len(CHECKPOINTS) == 4
    assert {c.clip_model for c in CHECKPOINTS.values()} == {"convnext_base_w_320", "RN50"}
    for c in CHECKPOINTS.values():
        assert c.google_drive_id in c.url


def test_missing_registry_checkpoint_offline_fails_fast_and_says_where(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CLIPVIS_CACHE", str(tmp_path))
    attempts = []  # offline means no connection is even tried (so nothing waits on a timeout)
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: attempts.append(address))
    with pytest.raises(WeightsUnavailable) as e:
        load_predictor("clipvis_convnext_b_lvis", device="cpu")
    assert attempts == []
    assert str(tmp_path / "checkpoints" / "clipvis_convnext_b_lvis.pth") in str(e.value)
    assert "1R7qGowGbY9Al7ygU2fZ-Y5uG5xfgmDyT" in str(e.value)


def test_registry_checkpoint_in_cache_is_used(monkeypatch, tmp_path, tiny_checkpoint, tiny_clip_config):
    monkeypatch.setenv("CLIPVIS_CACHE", str(tmp_path))
    target = tmp_path / "checkpoints" / CHECKPOINTS["clipvis_r50_lvis"].filename
    target.parent.mkdir(parents=True)
    target.write_bytes(tiny_checkpoint.read_bytes())
    # The registry says RN50, but an explicit --clip-model/--clip-config wins.
    p = load_predictor("clipvis_r50_lvis", clip_config=str(tiny_clip_config), device="cpu")
    assert p.model.num_queries == 10


def test_decoder_depth_comes_from_the_keys(tmp_path, tiny_clip_config):
    for layers in (2, 5):
        ck = make_tiny_checkpoint(tmp_path / f"d{layers}.pth", tiny_clip_config, dec_layers=layers)
        model, _, _ = build_model(checkpoint=str(ck), clip_config=str(tiny_clip_config))
        assert model.head_cfg.dec_layers == layers
        assert len(model.sem_seg_head.predictor.transformer_ffn_layers) == layers


def test_wrong_model_names_missing_and_unexpected_keys(tmp_path, tiny_clip_config, tiny_checkpoint):
    sd, _ = read_state_dict(tiny_checkpoint)
    sd["sem_seg_head.predictor.bogus.weight"] = torch.zeros(1)
    del sd["sem_seg_head.predictor.decoder_norm.bias"]
    model, _, _ = build_model(checkpoint=str(tiny_checkpoint), clip_config=str(tiny_clip_config))
    with pytest.raises(CheckpointMismatch) as e:
        load_into(model, sd, source="x.pth")
    msg = str(e.value)
    assert "sem_seg_head.predictor.bogus.weight" in msg and "sem_seg_head.predictor.decoder_norm.bias" in msg


def test_checkpoint_of_another_clip_model_is_refused(tiny_checkpoint, tmp_path):
    other = tmp_path / "clipvis_other_clip.json"
    other.write_text('{"embed_dim": 48, "vision_cfg": {"timm_model_name": "convnext_atto", "timm_model_pretrained": '
                     'false, "timm_pool": "", "timm_proj": "linear", "image_size": 224}, "text_cfg": '
                     '{"context_length": 77, "vocab_size": 49408, "width": 48, "heads": 2, "layers": 1}}')
    with pytest.raises(CheckpointMismatch, match="`clip_model`"):  # the argument; the CLI says --clip-model
        build_model(checkpoint=str(tiny_checkpoint), clip_config=str(other))


@pytest.mark.parametrize("content,message", [
    (b"not a checkpoint at all", "not a model checkpoint"),
    (b"", "not a model checkpoint"),
])
def test_garbage_files_are_refused(tmp_path, content, message):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(content)
    with pytest.raises(CheckpointMismatch, match=message):
        build_model(checkpoint=str(bad))


def test_unknown_clip_model_suggests_names():
    with pytest.raises(UnknownCLIPModel, match="convnext_base_w_320"):
        create_clip("convnext_base_w_32O")


def test_unknown_pretrained_tag_is_refused():
    with pytest.raises(UnknownCLIPModel, match="laion"):
        create_clip("convnext_base_w_320", pretrained="not_a_tag")


def test_pretrained_as_local_file_goes_through_open_clip(tmp_path, tiny_clip_config):
    name = register_clip_config(tiny_clip_config)
    torch.manual_seed(1)
    clip, _ = create_clip(name)
    path = tmp_path / "clip_weights.pt"
    torch.save(clip.state_dict(), path)
    torch.manual_seed(2)
    loaded, _ = create_clip(name, pretrained=str(path))
    for k, v in clip.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k


def saved_as_safetensors(tmp_path, tiny_checkpoint, tiny_clip_config):
    model, _, name = build_model(checkpoint=str(tiny_checkpoint), clip_config=str(tiny_clip_config))
    out = tmp_path / "ft.safetensors"
    save_checkpoint(out, model, clip_model_name=name)
    return model, name, out


def test_safetensors_round_trip(tmp_path, tiny_checkpoint, tiny_clip_config):
    model, name, out = saved_as_safetensors(tmp_path, tiny_checkpoint, tiny_clip_config)
    # The CLIP model name comes from the file's metadata: no --clip-model needed.
    again, _, name2 = build_model(checkpoint=str(out))
    assert name2 == name
    for k, v in model.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k


def test_saved_checkpoint_loads_in_a_fresh_process_without_clip_config(tmp_path, tiny_checkpoint, tiny_clip_config):
    import subprocess
    import sys
    _, _, out = saved_as_safetensors(tmp_path, tiny_checkpoint, tiny_clip_config)
    code = ("from clipvis import load_predictor; p = load_predictor(%r, device='cpu'); "
            "print(p.model.num_queries)" % str(out))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert proc.stdout.strip().endswith("10")
