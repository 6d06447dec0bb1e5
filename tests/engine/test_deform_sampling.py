"""Deformable attention's samplings agree: grid_sample per level (the official
formulation, `MSDeformAttn`) and the CPU backend's embedding_bag gather
(`GatherMSDeformAttn`, clipvis/backends/cpu_sampling.py)."""
from __future__ import annotations

import pytest
import torch

import clipvis.backends.cpu_sampling as cpu_sampling
from clipvis.backends.cpu_sampling import GatherMSDeformAttn
from clipvis.modeling.deform_attn import MSDeformAttn
from clipvis.modeling.pixel_decoder import DeformEncoder


def _both(attn: MSDeformAttn, query, src, shapes):
    """(reference, gather) outputs of the same weights."""
    ref = DeformEncoder.reference_points(shapes, "cpu")
    with torch.no_grad():
        return _as(attn, MSDeformAttn)(query, ref, src, shapes), _as(attn, GatherMSDeformAttn)(query, ref, src, shapes)


def _as(attn: MSDeformAttn, cls) -> MSDeformAttn:
    twin = cls(attn.d_model, attn.n_levels, attn.n_heads, attn.n_points)
    twin.load_state_dict(attn.state_dict())
    return twin.requires_grad_(False)


@pytest.mark.parametrize(
    ("shapes", "batch", "offset_std"),
    [
        ([(3, 5), (6, 10), (12, 20)], 1, 0.3),     # small offsets, as trained weights give
        ([(3, 5), (6, 10), (12, 20)], 3, 4.0),     # many points far outside the maps: zero padding
        ([(1, 1), (2, 3), (7, 2)], 2, 1.0),        # 1-pixel and tall levels
        ([(9, 16)], 2, 2.0),                       # one level
    ],
)
def test_gather_equals_grid_sample(shapes, batch, offset_std):
    torch.manual_seed(0)
    attn = MSDeformAttn(64, len(shapes), 4, 3).requires_grad_(False)
    torch.nn.init.normal_(attn.sampling_offsets.weight, std=offset_std)
    torch.nn.init.normal_(attn.sampling_offsets.bias, std=offset_std)
    torch.nn.init.normal_(attn.attention_weights.weight, std=0.5)
    tokens = sum(h * w for h, w in shapes)
    query, src = torch.randn(batch, tokens, 64), torch.randn(batch, tokens, 64)
    grid, gather = _both(attn, query, src, shapes)
    assert gather.shape == grid.shape == (batch, tokens, 64)
    torch.testing.assert_close(gather, grid, rtol=1e-4, atol=1e-5)
    assert not torch.equal(gather, grid)  # two computations, not one path twice


def test_points_on_pixel_centres_and_borders():
    """Zero offsets sample each level at the pixel centres of every level's
    reference grid, including exact borders; integer offsets land on centres."""
    shapes = [(4, 6), (8, 12)]
    attn = MSDeformAttn(32, 2, 2, 2).requires_grad_(False)
    torch.nn.init.zeros_(attn.sampling_offsets.weight)
    with torch.no_grad():
        attn.sampling_offsets.bias.copy_(torch.tensor([0.0, -1.0, 5.0, 13.0] * 4))
    tokens = sum(h * w for h, w in shapes)
    grid, gather = _both(attn, torch.randn(2, tokens, 32), torch.randn(2, tokens, 32), shapes)
    torch.testing.assert_close(gather, grid, rtol=1e-4, atol=1e-5)


def test_chunks_of_pairs_cross_samples(monkeypatch):
    """The gather's chunk boundaries that fall inside a sample give the same result as one chunk."""
    torch.manual_seed(1)
    shapes = [(5, 7), (10, 14)]
    attn = GatherMSDeformAttn(32, 2, 4, 2).requires_grad_(False)
    torch.nn.init.normal_(attn.sampling_offsets.weight, std=1.0)
    tokens = sum(h * w for h, w in shapes)
    query, src = torch.randn(3, tokens, 32), torch.randn(3, tokens, 32)
    ref = DeformEncoder.reference_points(shapes, "cpu")
    with torch.no_grad():
        monkeypatch.setattr(cpu_sampling, "GATHER_CHUNK", 10_000)
        whole = attn(query, ref, src, shapes)
        monkeypatch.setattr(cpu_sampling, "GATHER_CHUNK", 37)
        chunked = attn(query, ref, src, shapes)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("attn_class", [MSDeformAttn, GatherMSDeformAttn])
def test_training_path_reaches_the_offsets(attn_class):
    """With autograd on, gradients flow to the sampling offsets (grid_sample path),
    also from a module the CPU backend swapped (it falls back to the reference)."""
    shapes = [(4, 6), (8, 12)]
    attn = attn_class(32, 2, 2, 2)
    torch.nn.init.normal_(attn.sampling_offsets.weight, std=0.5)
    tokens = sum(h * w for h, w in shapes)
    ref = DeformEncoder.reference_points(shapes, "cpu")
    attn(torch.randn(1, tokens, 32), ref, torch.randn(1, tokens, 32), shapes).square().sum().backward()
    assert attn.sampling_offsets.weight.grad is not None
    assert attn.sampling_offsets.weight.grad.abs().sum() > 0
