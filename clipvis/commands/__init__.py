"""Command-line entry points (`python -m clipvis`, or `clipvis` once installed).
Each command module has `add_arguments(parser)`
and `run(args) -> int`; modules are imported only when their command runs, so
`python -m clipvis evaluate` never loads torch's model code."""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

COMMANDS = {
    "predict": ("clipvis.commands.predict", "segment and track one video, write YTVIS results JSON"),
    "label": ("clipvis.commands.label", "pseudo-label a whole dataset (resumable, torchrun scale-out)"),
    "evaluate": ("clipvis.commands.evaluate", "YTVIS / LV-VIS metrics of results against ground truth"),
    "train": ("clipvis.commands.train", "train or fine-tune the class-agnostic mask generator"),
}


def _prog() -> str:
    # `clipvis` (the console script of `pip install .`) or `python -m clipvis`: the same commands.
    return "clipvis" if Path(sys.argv[0]).name == "clipvis" else "python -m clipvis"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog=_prog(), description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        parser.print_help() if not argv or argv[0] in ("-h", "--help") else parser.parse_args(argv)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    cmd = argparse.ArgumentParser(prog=f"{_prog()} {argv[0]}", description=COMMANDS[argv[0]][1])
    module.add_arguments(cmd)
    args = cmd.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, RuntimeError, OSError) as e:
        # User errors (bad input, missing weights) end with one clear line, not a traceback.
        if getattr(args, "debug", False):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1
