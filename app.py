"""CLIP-VIS Studio: `python app.py` serves the studio on http://127.0.0.1:7860.

    python app.py                      # the default released model (its weights must be downloaded)
    python app.py --model demo         # a tiny random model built in memory: try every step, no files

Every flag has an environment variable (`python app.py --help`), so a Hugging
Face Space runs it with none. No weights are loaded until the first run.
"""
from __future__ import annotations

from app.config import Studio, StudioConfig, parse_args
from app.model_service import ModelService
from app.ui import build_demo, launch


def main(argv=None) -> None:
    args = parse_args(argv)
    config = StudioConfig.from_args(args)
    config.workdir.mkdir(parents=True, exist_ok=True)
    service = ModelService.from_args(args)
    demo = build_demo(Studio(config=config, service=service))
    print(f"CLIP-VIS Studio: sessions in {config.workdir}; the model loads on the first run.", flush=True)
    launch(demo, host=args.host, port=args.port, share=args.share, max_upload_mb=args.max_upload_mb)


if __name__ == "__main__":
    main()
