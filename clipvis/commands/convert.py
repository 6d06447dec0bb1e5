"""`python -m clipvis convert-checkpoint IN.pth OUT.safetensors`: a checkpoint
as safetensors, which holds tensors only and loads without pickle.

A plain checkpoint (tensors, containers, numbers) is read with
`torch.load(weights_only=True)`. A file that pickles other Python objects is
refused, because unpickling it runs code from it, unless `--trust-pickle`
says that its source is trusted: this command is the one place in CLIP-VIS
that then unpickles, once, so that everything afterwards loads the safe file.
Either way only the state dict's tensors are written.
"""
from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser):
    p.add_argument("source", metavar="IN", help="a .pth checkpoint ({'model': state_dict} or a state dict)")
    p.add_argument("out", metavar="OUT", help="the .safetensors file to write")
    p.add_argument("--trust-pickle", action="store_true",
                   help="unpickle IN even if it holds Python objects beyond tensors (this runs code from the "
                        "file: only for files from a source you trust)")
    p.add_argument("--clip-model", help="the CLIP model it was trained with, recorded in OUT (default: recognised "
                                        "from the keys for the released checkpoints)")
    p.add_argument("--clip-config", metavar="JSON", help="an open_clip config of a custom CLIP, recorded in OUT")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def run(args) -> int:
    import torch
    from safetensors.torch import save_file

    from ..atomic import atomic_path
    from ..build import guess_clip_model, register_clip_config
    from ..modeling import HeadConfig
    from ..paths import check_output_file, require_readable
    from ..weights import UnsafeCheckpoint, clip_config_of, load_tensors_only, state_dict_of

    source = require_readable(args.source, "checkpoint")
    out = check_output_file(args.out, name="out")
    if out.suffix != ".safetensors":
        raise ValueError(f"`out` {out.name}: name the output file *.safetensors")
    try:
        obj = load_tensors_only(source)
    except UnsafeCheckpoint as e:
        if not args.trust_pickle:
            raise ValueError(f"{e.args[0].split(':')[0]}: refused. It pickles Python objects beyond tensors, so "
                             "loading it runs code from the file. If you trust its source, run again with "
                             "--trust-pickle.") from None
        print(f"{source.name}: unpickling it, as --trust-pickle says its source is trusted", file=sys.stderr)
        obj = torch.load(source, map_location="cpu", weights_only=False)  # the one trusted unpickling
    sd = state_dict_of(obj)
    if sd is None:
        raise ValueError(f"{source.name} holds no state dict (a dict of tensors, or one under 'model')")
    dropped = sorted(k for k in obj if k != "model") if isinstance(obj, dict) and "model" in obj else []
    clip_model = args.clip_model or (register_clip_config(args.clip_config) if args.clip_config else None) \
        or guess_clip_model(sd)
    meta = {"format": "clipvis", "converted_from": source.name}
    if clip_model:
        meta["clip_model"] = clip_model
        meta["clip_config"] = json.dumps(clip_config_of(clip_model))
    try:
        meta["head"] = json.dumps(HeadConfig.from_state_dict(sd).to_dict())
    except ValueError:
        pass  # not a CLIP-VIS head (e.g. CLIP weights alone): converted all the same
    # safetensors stores no shared or strided storage: one contiguous copy per tensor.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in sd.items()}
    with atomic_path(out) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    note = f"; left out: {', '.join(map(str, dropped))}" if dropped else ""
    print(f"wrote {len(tensors)} tensors to {out}" + (f" (CLIP {clip_model})" if clip_model else
                                                      " (no CLIP model recorded: give --clip-model)") + note,
          file=sys.stderr)
    return 0

