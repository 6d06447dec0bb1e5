"""The inputs of issue 15's probe, made cheaply, and a peak-memory measure.

Used by bench/bench_inputs.py and tests/data/test_bounded_inputs.py:
- a 4 MB-class zip of two frames, each a valid JPEG followed by 2 GiB of zeros;
- PNGs of 12000x12000 and 16000x16000 pixels that are a few hundred KB;
- a zip of 10,000 tiny frames;
- a FIFO named like a video.

The large ones are written as streams: the compressed data of a run of zeros
is made once and repeated (deflate blocks after a full flush do not depend on
what came before), so making a "2 GiB" member takes about a second and no
memory.
"""
from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np

GiB = 2**30
_BLOCK = 64 * 2**20  # zeros per repeated deflate block


def _deflated_zeros(n: int, *, prefix: bytes = b"", level: int = 9) -> tuple[bytes, int]:
    """Raw deflate of prefix + n zero bytes, as bytes; and its CRC-32."""
    assert n % _BLOCK == 0
    head = zlib.compressobj(level, zlib.DEFLATED, -15)
    start = head.compress(prefix) + head.flush(zlib.Z_FULL_FLUSH)
    zeros = bytes(_BLOCK)
    block = zlib.compressobj(level, zlib.DEFLATED, -15)
    repeated = block.compress(zeros) + block.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(level, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(n // _BLOCK):
        crc = zlib.crc32(zeros, crc)
    return start + repeated * (n // _BLOCK) + end, crc


def zip_of_padded_jpegs(path: Path, *, frames: int = 2, pad: int = 2 * GiB) -> Path:
    """A zip of `frames` members, each a valid 64x48 JPEG followed by `pad` zero bytes,
    deflated (the issue's 4.2 MB zip: 2 GiB per member once unpacked)."""
    import cv2
    ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))
    assert ok
    data, crc = _deflated_zeros(pad, prefix=jpeg.tobytes())
    size = len(jpeg.tobytes()) + pad
    with open(path, "wb") as f:
        central = []
        for i in range(frames):
            name = f"clip/{i:05d}.jpg".encode()
            offset = f.tell()
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(name), 0))
            f.write(name)
            f.write(data)
            central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), size,
                                       len(name), 0, 0, 0, 0, 0, offset) + name)
        start = f.tell()
        for c in central:
            f.write(c)
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, frames, frames, f.tell() - start, start, 0))
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def big_png(path: Path, side: int) -> Path:
    """A side x side RGB PNG, grey, a few hundred KB."""
    row = b"\x00" + bytes(3 * side)  # filter byte + a row of zeros
    rows_per_block = 256
    # zlib framing: one header, then raw deflate blocks, then the end and the Adler-32.
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = raw.compress(row * rows_per_block) + raw.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(side, rows_per_block)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = tail.compress(row * rest) + tail.flush(zlib.Z_FINISH)
    adler = 1
    for _ in range(full):
        adler = zlib.adler32(row * rows_per_block, adler)
    adler = zlib.adler32(row * rest, adler)
    idat = b"\x78\xda" + piece * full + last + struct.pack(">I", adler)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)))
        f.write(_png_chunk(b"IDAT", idat))
        f.write(_png_chunk(b"IEND", b""))
    return path


def zip_of_tiny_frames(path: Path, *, frames: int = 10_000, side: int = 16) -> Path:
    import cv2
    ok, jpeg = cv2.imencode(".jpg", np.full((side, side, 3), 90, np.uint8))
    assert ok
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(frames):
            zf.writestr(f"tiny/{i:05d}.jpg", jpeg.tobytes())
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


PROBES = {  # name -> (file name, maker)
    "zip: 2 JPEGs + 2 GiB zeros each": ("padded.zip", zip_of_padded_jpegs),
    "PNG 12000x12000": ("big12000.png", lambda p: big_png(p, 12000)),
    "PNG 16000x16000": ("big16000.png", lambda p: big_png(p, 16000)),
    "zip: 10,000 tiny frames": ("tiny10000.zip", zip_of_tiny_frames),
}


def make_probes(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: (folder / file if (folder / file).exists() else make(folder / file))
            for name, (file, make) in PROBES.items()}


# ---- peak memory of handling one input, in a fresh process -----------------------------
def status_mb(key: str) -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(key + r":\s+(\d+)", text).group(1)) / 1024


def reset_peak():
    """Make VmHWM (peak resident memory) start again from the current RSS (Linux)."""
    Path("/proc/self/clear_refs").write_text("5")


CHILD = r'''
import json, sys
sys.path.insert(0, {repo!r})
from bench.probe_inputs import status_mb, reset_peak
{setup}
for path in {paths!r}:
    idle = status_mb("VmRSS")
    reset_peak()
    try:
        message = {action}
    except Exception as e:  # what a caller would see
        message = f"{{type(e).__name__}}: {{e}}"
    print(json.dumps({{"path": path, "idle_mb": idle, "peak_above_idle_mb": status_mb("VmHWM") - idle,
                      "message": str(message)}}), flush=True)
'''

SETUPS = {
    # The engine's reader, as `python -m clipvis predict` uses it: open, then read every frame
    # (a single image as a one-frame folder).
    "read": ("""
from pathlib import Path
from clipvis.video import open_frames, open_video
from clipvis.video.frames import IMAGE_EXTENSIONS
def read(path):
    video = open_frames([path]) if Path(path).suffix in IMAGE_EXTENSIONS else open_video(path)
    return f"read {sum(1 for _ in video)} frames"
""", "read(path)"),
    # The studio's handler for a loaded file: the session's copy, the checks, the display cache.
    "studio": ("""
from app.config import Studio, StudioConfig, parse_args
from app.model_service import ModelService
from app.callbacks import files
args = parse_args(["--model", "demo", "--workdir", {workdir!r}])
studio = Studio(config=StudioConfig.from_args(args), service=ModelService.from_args(args))
import html, re
def shown(markdown):  # what the page shows: the message's Markdown escapes rendered
    return html.unescape(re.sub(r"\\\\(.)", r"\\1", str(markdown)))
""", "shown(files.load_video(studio, 'b' * 32, path, None, None, 1, 0, 480, progress=lambda *a, **k: None).get('message'))"),
}


def measure(paths: list[Path], how: str = "read", *, workdir: Path, timeout: float = 900) -> list[dict]:
    """Per input: {"path", "idle_mb", "peak_above_idle_mb", "message"} of handling it,
    one after the other in one fresh process (the peak is reset before each)."""
    repo = str(Path(__file__).resolve().parents[1])
    setup, action = SETUPS[how]
    code = CHILD.format(repo=repo, setup=setup.replace("{workdir!r}", repr(str(workdir))), action=action,
                        paths=[str(p) for p in paths])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=repo)
    if proc.returncode != 0:
        raise RuntimeError(f"the measuring process failed:\n{proc.stderr[-3000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
