"""CLIP-VIS Studio: `python app.py` serves the studio on http://127.0.0.1:7860.

    python app.py                      # the default released model (its weights must be downloaded)
    python app.py --model demo         # a tiny random model built in memory: try every step, no files

Every flag has an environment variable (`python app.py --help`), so a Hugging
Face Space runs it with none. No weights are loaded until the first run.
"""
from __future__ import annotations

import sys

from app.config import Studio, StudioConfig, WorkdirError, keep_gradio_files_in, parse_args, prepare_workdir


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        prepare_workdir(args)
    except WorkdirError as e:
        print(f"CLIP-VIS Studio: {e}", file=sys.stderr)
        sys.exit(2)
    config = StudioConfig.from_args(args)
    keep_gradio_files_in(config.workdir)
    from app.deployment import on_zero_gpu
    if on_zero_gpu():  # pragma: no cover - ZeroGPU: spaces patches torch's CUDA before any model loads
        import spaces  # noqa: F401
    from app.model_service import DEFAULT, ModelService  # after the work folder is set: Gradio reads it on import
    from app.ui import build_demo, launch

    from app.callbacks.files import OPEN, start_examples
    from app.estimate import RunTimes
    from app.session.expiry import keep_expiring

    keep_expiring(config.workdir, config.session_ttl_days, in_use=OPEN.__contains__)
    service = ModelService.from_args(args, times=RunTimes(config.workdir))
    studio = Studio(config=config, service=service)
    if on_zero_gpu():  # the forked GPU workers inherit the predictor: load it before any is forked
        try:
            service.get(DEFAULT)
        except Exception as e:  # noqa: BLE001 - the run says why to the visitor; the log has it now
            print(f"CLIP-VIS Studio: the model did not load at start ({type(e).__name__}); runs will say why",
                  file=sys.stderr, flush=True)
    start_examples(studio, args.cache_examples)
    demo = build_demo(studio)
    print(f"CLIP-VIS Studio: sessions in {config.workdir}; the model loads on the first run.", flush=True)
    launch(demo, host=args.host, port=args.port, share=args.share, max_upload_mb=args.max_upload_mb)


if __name__ == "__main__":
    main()
