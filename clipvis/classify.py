"""Weighted open-vocabulary classification and the official per-video
instance inference (CLIP-VIS, Sec. III-D). Works on a `VideoAnalysis`, so a
new vocabulary re-labels a video without touching its frames.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .structures import Instance, VideoAnalysis, VideoResult
from .vocab import Vocabulary


def frame_class_logits(pooled: torch.Tensor, text_rows: torch.Tensor, synonyms_per_class: list[int],
                       logit_scale: torch.Tensor) -> torch.Tensor:
    """pooled (..., D), text_rows (R, D) normalised -> (..., C) logits.

    cosine x min(exp(logit_scale), 100); a class's logit is the max over its
    synonyms' rows.
    """
    x = F.normalize(pooled.float(), dim=-1)
    logits = torch.clamp(logit_scale.float().exp(), max=100) * x @ text_rows.float().T
    bounds = np.cumsum([0] + list(synonyms_per_class))
    if all(n == 1 for n in synonyms_per_class):
        return logits
    return torch.stack([logits[..., a:b].max(-1).values for a, b in zip(bounds[:-1], bounds[1:])], -1)


def classify_analysis(analysis: VideoAnalysis, vocabulary: Vocabulary, *, text_rows: torch.Tensor,
                      synonyms_per_class: list[int], logit_scale: torch.Tensor, topk: int = 50,
                      frame_rule_ratio: float = 0.1) -> VideoResult:
    """Scores every (query, class) pair and keeps the top-k as instances."""
    logits = frame_class_logits(analysis.pooled, text_rows, synonyms_per_class, logit_scale)  # (Q, T, C)
    if analysis.meta.clip_kind == "resnet":
        logits = logits.masked_fill(analysis.pool_empty[..., None], 0.0)  # official: empty mask -> logits 0
    cls_prob = logits.softmax(-1)
    ious = analysis.ious.float()
    mask_iou_score = (cls_prob * ious[..., None]).sqrt().mean(1)  # (Q, C)
    objectness = analysis.objectness()
    final = (mask_iou_score * objectness[:, None]).sqrt()  # (Q, C)

    q, c = final.shape
    k = min(topk, q * c)
    top_scores, flat_idx = final.flatten().topk(k)
    queries, labels = flat_idx // c, flat_idx % c
    # Per-frame score of each instance's class. The official code applies a
    # sigmoid to probabilities that are already softmaxed; reproduced as is.
    frame_obj = analysis.object_logits.float().softmax(-1)[..., 0]  # (Q, T)
    per_frame = (cls_prob[queries, :, labels].sigmoid() * frame_obj[queries]).sqrt()  # (k, T)
    present = per_frame >= top_scores[:, None] * frame_rule_ratio
    # Mask-score rescoring: mean sigmoid over positive low-res pixels, shown frames only.
    sig_sum = (analysis.pos_sigmoid_sum[queries] * present).sum(1)
    count = (analysis.pos_count[queries] * present).sum(1)
    scores = top_scores * (sig_sum / (count + 1e-6))

    order = torch.argsort(scores, descending=True, stable=True)
    instances = [
        Instance(query=int(queries[j]), label=int(labels[j]), category_id=vocabulary.classes[int(labels[j])].id,
                 name=vocabulary.classes[int(labels[j])].name, score=float(scores[j]),
                 present=present[j].numpy().copy(), frame_scores=per_frame[j].numpy().copy(),
                 class_scores=final[queries[j]].numpy().copy())
        for j in order.tolist()
    ]
    return VideoResult(analysis=analysis, vocabulary=vocabulary, instances=instances, class_scores=final.numpy())
