"""Text classifier: prompt-ensembled, normalised CLIP text embeddings per class.

Each synonym of each class is put into the 14 ViLD templates; the embeddings
are normalised, averaged over templates and normalised again (one row per
synonym). The class logit is later the max over its synonyms' rows.

Speed: the text tower is causal and reads the end token, so every batch is cut
to its longest prompt instead of the full 77-token context, and prompts are
sorted by length so batches are short. Embeddings are cached per text tower
and prompt, in memory and on disk, so a 1,196-class vocabulary is encoded once.
The cache is bounded (least recently used prompts go first; TEXT_CACHE_MB,
env CLIPVIS_TEXT_CACHE_MB), since the studio keeps every prompt any visitor
types; `python -m clipvis cache clear` empties it.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from .atomic import atomic_path

VILD_TEMPLATES = (
    "a photo of a {}.",
    "This is a photo of a {}",
    "There is a {} in the scene",
    "There is the {} in the scene",
    "a photo of a {} in the scene",
    "a photo of a small {}.",
    "a photo of a medium {}.",
    "a photo of a large {}.",
    "This is a photo of a small {}.",
    "This is a photo of a medium {}.",
    "This is a photo of a large {}.",
    "There is a small {} in the scene.",
    "There is a medium {} in the scene.",
    "There is a large {} in the scene.",
)


TEXT_CACHE_MB = 256  # per text tower: ~100,000 prompts of 640-d embeddings (LV-VIS needs 16,744)


def default_cache_dir() -> Path:
    return Path(os.environ.get("CLIPVIS_CACHE", Path.home() / ".cache" / "clipvis"))


def text_tower_fingerprint(clip_model: nn.Module) -> str:
    """A short digest of the text tower's weights: the cache key of a model."""
    h = hashlib.sha256()
    for name, t in clip_model.state_dict().items():
        if name.startswith("visual.") or name == "logit_scale":
            continue
        t = t.detach().float().cpu().contiguous()
        flat = t.flatten()
        # Sampling every tensor (shape, a strided subset) keeps this fast for big towers.
        h.update(name.encode() + str(tuple(t.shape)).encode())
        h.update(flat[:: max(1, flat.numel() // 4096)].numpy().tobytes())
    return h.hexdigest()[:24]


class TextEncoder:
    """Encodes prompts with an open_clip model's text tower, with a disk cache."""

    def __init__(self, clip_model: nn.Module, tokenizer, *, cache_dir: Path | None = None,
                 device: torch.device | str = "cpu", batch_size: int = 256, trim: bool = True,
                 cache_mb: float | None = None):
        self.model = clip_model
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.trim = trim
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        mb = cache_mb if cache_mb is not None else float(os.environ.get("CLIPVIS_TEXT_CACHE_MB", TEXT_CACHE_MB))
        self.max_prompts = max(0, int(mb * 2**20 // (4 * self._embed_dim())))
        self._fingerprint = None
        self._memory: OrderedDict[str, torch.Tensor] = OrderedDict()  # least recently used first
        self._disk_loaded = False

    @property
    def cache_file(self) -> Path:
        if self._fingerprint is None:
            self._fingerprint = text_tower_fingerprint(self.model)
        return self.cache_dir / "text" / f"{self._fingerprint}.safetensors"

    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """Raw (un-normalised) embeddings, (N, D), in the order given."""
        wanted = list(dict.fromkeys(prompts))
        if not self._disk_loaded and any(p not in self._memory for p in wanted):
            self._load_cache()
        found = {p: self._memory[p] for p in wanted if p in self._memory}
        missing = [p for p in wanted if p not in found]
        if missing:
            found.update(zip(missing, self._run(missing)))
        self._remember(found)
        if missing:
            self._save_cache()
        return torch.stack([found[p] for p in prompts])

    def _remember(self, embeddings: dict):
        """Mark as most recently used, and drop the least recently used beyond the bound."""
        for p, e in embeddings.items():
            self._memory[p] = e
            self._memory.move_to_end(p)
        while len(self._memory) > self.max_prompts:
            self._memory.popitem(last=False)

    @torch.no_grad()
    def _run(self, prompts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(prompts)
        lengths = tokens.argmax(dim=-1) + 1  # the end token has the largest id
        order = torch.argsort(lengths, stable=True)
        out = torch.empty(len(prompts), self._embed_dim())
        for start in range(0, len(prompts), self.batch_size):
            idx = order[start:start + self.batch_size]
            batch = tokens[idx]
            if self.trim:
                batch = batch[:, : int(lengths[idx].max())]
            out[idx] = self._encode_tokens(batch.to(self.device)).float().cpu()
        return out

    def _embed_dim(self) -> int:
        proj = getattr(self.model, "text_projection", None)
        if proj is None:
            return int(self.model.encode_text(self.tokenizer(["a"]).to(self.device)).shape[-1])
        return int(proj.weight.shape[0] if isinstance(proj, nn.Linear) else proj.shape[-1])

    def _encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        m = self.model
        if not hasattr(m, "token_embedding") or getattr(m, "text_pool_type", "argmax") != "argmax":
            return m.encode_text(tokens)  # towers we do not trim (e.g. HF text towers)
        n = tokens.shape[1]
        cast = m.transformer.get_cast_dtype()
        x = m.token_embedding(tokens).to(cast) + m.positional_embedding[:n].to(cast)
        mask = m.attn_mask[:n, :n] if m.attn_mask is not None else None
        x = m.ln_final(m.transformer(x, attn_mask=mask))
        x = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]
        proj = m.text_projection
        return proj(x) if isinstance(proj, nn.Linear) else x @ proj

    def _load_cache(self):
        self._disk_loaded = True
        path = self.cache_file
        if not path.is_file() or path.stat().st_size > 2 * self.max_prompts * 4 * self._embed_dim() + 2**24:
            return  # none, or far larger than this bound allows (left to `cache clear`)
        try:
            from safetensors import safe_open
            with safe_open(str(path), framework="pt") as f:
                prompts = json.loads(f.metadata()["prompts"])
                emb = f.get_tensor("embeddings")
        except Exception:  # a broken cache is only a lost speed-up
            return
        # Saved least recently used first: what is already in memory was used since.
        older = OrderedDict((p, e) for p, e in zip(prompts, emb) if p not in self._memory)
        older.update(self._memory)
        self._memory = older
        self._remember({})

    def _save_cache(self):
        from safetensors.torch import save_file
        prompts = list(self._memory)
        if not prompts:
            return
        emb = torch.stack([self._memory[p] for p in prompts]).contiguous()
        try:
            with atomic_path(self.cache_file) as tmp:
                save_file({"embeddings": emb}, str(tmp), metadata={"prompts": json.dumps(prompts)})
        except OSError:
            pass  # read-only cache folder: work on without it

    def classifier(self, synonyms: list[tuple[str, ...]]) -> tuple[torch.Tensor, list[int]]:
        """Rows (sum of synonyms, D), normalised, and the synonyms per class."""
        prompts = [t.format(s) for syns in synonyms for s in syns for t in VILD_TEMPLATES]
        emb = self.encode_prompts(prompts)
        emb = emb / emb.norm(dim=-1, keepdim=True)
        emb = emb.reshape(-1, len(VILD_TEMPLATES), emb.shape[-1]).mean(1)
        return emb / emb.norm(dim=-1, keepdim=True), [len(s) for s in synonyms]
