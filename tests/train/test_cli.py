"""`python -m clipvis train`: help, a short run whose checkpoint loads like an
official one, resume rules, and DDP under torchrun (gloo, CPU)."""
import os
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open

from clipvis import InferenceConfig, Vocabulary, load_predictor
from clipvis.commands import main
from tests.conftest import REPO, moving_squares_video


def _small_run_args(data, checkpoint, clip_config, out, *extra):
    return ["train", "--data", str(data), "--init", str(checkpoint), "--clip-config", str(clip_config),
            "--out", str(out), "--crop-size", "64", "--batch-size", "1", "--num-points", "128", "--workers", "0",
            "--device", "cpu", "--log-period", "1", *extra]


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    import argparse

    from clipvis.commands import train as cmd
    p = argparse.ArgumentParser()
    cmd.add_arguments(p)
    for action in p._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, action.option_strings
            assert action.option_strings[0] in text


def test_cli_run_resume_and_checkpoint_loads_in_the_predictor(tmp_path, shapes_coco, tiny_checkpoint,
                                                             tiny_clip_config, capsys):
    out = tmp_path / "run"
    args = _small_run_args(shapes_coco, tiny_checkpoint, tiny_clip_config, out, "--max-iter", "2", "--seed", "1")
    assert main(args) == 0
    final = out / "model_final.safetensors"
    with safe_open(str(final), framework="pt") as f:
        assert f.metadata()["clip_model"] == "clipvis_tiny_test"
    # The fine-tuned checkpoint runs in the predictor like an official one.
    predictor = load_predictor(str(final), clip_config=str(tiny_clip_config), device="cpu",
                               config=InferenceConfig(min_size=64, topk=5))
    result = predictor.predict(moving_squares_video(num_frames=3), Vocabulary.from_names(["square"]))
    assert result.num_frames == 3 and len(result.instances) == 5

    capsys.readouterr()
    assert main(args) == 1  # the run exists: no silent overwrite
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--resume", "--seed", "2"]) == 1
    assert "seed: 1 in the run, 2 now" in capsys.readouterr().err
    # Resume with nothing but the folder and a longer schedule.
    assert main(["train", "--out", str(out), "--resume", "--max-iter", "3"]) == 0
    assert "3/3 iterations" in capsys.readouterr().out


def test_cli_reports_bad_data_in_one_line(tmp_path, capsys):
    bad = tmp_path / "results.json"
    bad.write_text("[]")
    assert main(["train", "--data", str(bad), "--out", str(tmp_path / "o"), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "results files" in err and "Traceback" not in err


def test_ddp_under_torchrun_with_gloo(tmp_path, shapes_coco, tiny_checkpoint, tiny_clip_config):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "clipvis",
           *_small_run_args(shapes_coco, tiny_checkpoint, tiny_clip_config, out, "--max-iter", "2")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "on cpu x 2" in proc.stderr
    assert proc.stderr.count("saved ") == 1  # only rank 0 writes
    weights = torch.load(tiny_checkpoint, weights_only=True)["model"]
    from safetensors.torch import load_file
    trained = load_file(out / "model_final.safetensors")
    assert any(not torch.equal(trained[k], weights[k]) for k in trained if k.startswith("sem_seg_head."))
