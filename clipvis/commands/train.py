"""`python -m clipvis train`: train or fine-tune the class-agnostic mask generator.

    python -m clipvis train --data corrected.json --init clipvis_convnext_b_lvis --out runs/ft --max-iter 2000
    torchrun --nproc_per_node 4 -m clipvis train --data lvis_v1_train.json --image-root coco/ --out runs/lvis ...

Options left out keep their defaults (shown in brackets), or, with --resume,
the values of the run being resumed.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from ..train.config import AugmentConfig, TrainConfig
from ..train.criterion import LossConfig
from ..train.matcher import MatchCosts

_T, _A, _L, _M = TrainConfig.__dataclass_fields__, AugmentConfig(), LossConfig(), MatchCosts()


def _d(value) -> str:
    return f" [{value}]"


def add_arguments(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = __doc__.split("\n\n", 1)[1] + "\nSee docs/TRAINING.md for the objective, the data and the run folder."
    g = p.add_argument_group("data and output")
    g.add_argument("--data", action="append", metavar="JSON",
                   help="training data: COCO/LVIS instance JSON (images) or a YTVIS dataset JSON (videos, e.g. the "
                        "studio's export); repeat to mix. Categories are ignored. Not needed with --resume")
    g.add_argument("--image-root", action="append", metavar="DIR",
                   help="folder the JSON's file names are relative to (default: the JSON's own folder; YTVIS also "
                        "looks in DIR/JPEGImages); give one for all --data, or one per --data")
    g.add_argument("--out", required=True, help="run folder: checkpoints, train_state.pt, losses.json/.html")
    g.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    g = p.add_argument_group("model")
    g.add_argument("--init", metavar="CHECKPOINT",
                   help="start from this model: a released name (e.g. clipvis_convnext_b_lvis) or a .pth/.safetensors "
                        "file; CLIP and head sizes come from it. Without it the head starts random")
    g.add_argument("--clip-model",
                   help="open_clip model name (default: the checkpoint's; for a new head convnext_base_w_320)")
    g.add_argument("--clip-config", metavar="JSON", help="an open_clip model config for a custom CLIP")
    g.add_argument("--clip-pretrained", metavar="TAG|FILE",
                   help="CLIP weights for a new head (an open_clip tag such as laion_aesthetic_s13b_b82k, or a file); "
                        "default: random CLIP, only useful for tests")
    g.add_argument("--num-queries", type=int, help="queries of a new head [100]")
    g.add_argument("--dec-layers", type=int, help="decoder layers of a new head [9]")
    g = p.add_argument_group("schedule")
    g.add_argument("--max-iter", type=int, help="iterations in all" + _d(_T["max_iter"].default))
    g.add_argument("--stop-at", type=int, metavar="ITER",
                   help="stop after this iteration with a checkpoint (continue with --resume); the schedule still "
                        "runs to --max-iter")
    g.add_argument("--batch-size", type=int, help="images per process and iteration" + _d(_T["batch_size"].default))
    g.add_argument("--lr", type=float, help="AdamW learning rate" + _d(_T["lr"].default))
    g.add_argument("--weight-decay", type=float,
                   help="AdamW weight decay (none on norms and embeddings)" + _d(_T["weight_decay"].default))
    g.add_argument("--clip-grad", type=float,
                   help="clip the total gradient norm to this; 0 = off" + _d(_T["clip_grad"].default))
    g.add_argument("--lr-steps", metavar="F1,F2|none",
                   help="fractions of --max-iter where the lr drops x0.1 [0.889,0.963, the official schedule]")
    g.add_argument("--seed", type=int, help="seed of every random draw (data order, augmentation, point sampling)"
                   + _d(_T["seed"].default))
    g = p.add_argument_group("augmentation (large-scale jitter)")
    g.add_argument("--crop-size", type=int, help="square training crop, pixels" + _d(_A.crop_size))
    g.add_argument("--min-scale", type=float, help="smallest resize, as a fraction of the crop" + _d(_A.min_scale))
    g.add_argument("--max-scale", type=float, help="largest resize, as a fraction of the crop" + _d(_A.max_scale))
    g.add_argument("--no-flip", action="store_true", default=None, help="no random horizontal flips")
    g = p.add_argument_group("objective")
    g.add_argument("--num-points", type=int, help="points sampled per mask for losses and matching"
                   + _d(_L.num_points))
    g.add_argument("--no-object-weight", type=float,
                   help="cross-entropy weight of 'no object' (official config 0.1; its code uses 0.4)"
                   + _d(_L.no_object_weight))
    g.add_argument("--match-iou-cost", type=float,
                   help="weight of a soft-IoU cost in the matching (the official matcher leaves it out)"
                   + _d(_M.iou))
    g = p.add_argument_group("hardware and logging")
    g.add_argument("--device", help="auto, cpu, cuda [auto]; under torchrun each process takes cuda:LOCAL_RANK")
    g.add_argument("--amp", choices=["auto", "fp16", "bf16", "off"],
                   help="mixed precision (auto: fp16 on CUDA, off on the CPU) [auto]")
    g.add_argument("--workers", type=int, help="data loading processes" + _d(_T["num_workers"].default))
    g.add_argument("--checkpoint-period", type=int,
                   help="save every N iterations" + _d(_T["checkpoint_period"].default))
    g.add_argument("--log-period", type=int, help="log the mean losses every N iterations"
                   + _d(_T["log_period"].default))
    g.add_argument("--debug", action="store_true", help="show tracebacks")


def _lr_steps(text: str) -> tuple[float, ...]:
    if text.strip().lower() in ("none", ""):
        return ()
    try:
        steps = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--lr-steps takes fractions like 0.889,0.963 or 'none', not {text!r}") from None
    if not all(0 < s <= 1 for s in steps):
        raise ValueError("--lr-steps are fractions of --max-iter, between 0 and 1")
    return steps


def _absolute(paths):
    """Files and folders as absolute paths (a run may be resumed from another
    folder); anything else, such as a released checkpoint's name, as given."""
    if paths is None:
        return None
    return [str(Path(p).resolve()) if Path(p).exists() else p for p in paths]


def config_from_args(args, base: TrainConfig | None) -> TrainConfig:
    """The given options over `base` (the resumed run's settings, or the defaults)."""
    for name in ("data", "image_root"):
        setattr(args, name, _absolute(getattr(args, name)))
    for name in ("init", "clip_config", "clip_pretrained"):
        if getattr(args, name) is not None:
            setattr(args, name, _absolute([getattr(args, name)])[0])
    if base is None:
        if not args.data:
            raise ValueError("give the training data with --data (or --resume a run)")
        base = TrainConfig(data=tuple(args.data))

    def pick(**kw):
        return {k: v for k, v in kw.items() if v is not None}

    head = dict(base.model.head)
    head.update(pick(num_queries=args.num_queries, dec_layers=args.dec_layers))
    model = dataclasses.replace(base.model, head=head, **pick(
        init=args.init, clip_model=args.clip_model, clip_config=args.clip_config,
        clip_pretrained=args.clip_pretrained))
    augment = dataclasses.replace(base.augment, **pick(
        crop_size=args.crop_size, min_scale=args.min_scale, max_scale=args.max_scale,
        flip=None if args.no_flip is None else False))
    points = pick(num_points=args.num_points)
    match = dataclasses.replace(base.loss.match, **points, **pick(iou=args.match_iou_cost))
    loss = dataclasses.replace(base.loss, match=match, **points, **pick(no_object_weight=args.no_object_weight))
    return dataclasses.replace(base, model=model, augment=augment, loss=loss, **pick(
        data=tuple(args.data) if args.data else None,
        image_roots=tuple(args.image_root) if args.image_root else None,
        max_iter=args.max_iter, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        clip_grad=args.clip_grad, lr_steps=_lr_steps(args.lr_steps) if args.lr_steps is not None else None,
        seed=args.seed, amp=args.amp, num_workers=args.workers, checkpoint_period=args.checkpoint_period,
        log_period=args.log_period))


def run(args) -> int:
    from ..paths import check_output_dir
    from ..train.loop import train
    from ..train.state import load_run

    check_output_dir(args.out)  # before the data and the model are loaded

    state = load_run(args.out) if args.resume else None
    if args.resume and state is None:
        print(f"note: {args.out} holds no run yet; starting one", file=sys.stderr)
    base = TrainConfig.from_dict(state["config"]) if state else None
    config = config_from_args(args, base)
    result = train(config, args.out, resume=args.resume, device=args.device or "auto", stop_at=args.stop_at)
    print(f"{result.iteration}/{config.max_iter} iterations; weights: {result.weights}")
    return 0
