"""Deformable attention's sampling for CPU inference: an `F.embedding_bag` gather.

Each (query, head) reads 4 corners for each of its L*P points from a
zero-padded, channels-last value table, and one `F.embedding_bag` does the
gathers, the bilinear and attention weighting and the sum. On the CPU it is
2.2-2.4x faster than `grid_sample` (bench/bench_sampling.py): a corner's D
channels are one contiguous read, and no (D, P, Lq) temporary is made and
summed. On a GPU grid_sample is 3.4-5x faster, so only the CPU backend uses it.
Equal to the reference `MSDeformAttn` up to float rounding
(tests/engine/test_deform_sampling.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..modeling.deform_attn import MSDeformAttn

GATHER_CHUNK = 2048  # (sample, query) pairs per sampling step: the temporaries stay in the CPU's cache


class PaddedValues:
    """All levels' values in one (N*Sp*M, D) table for `ms_deform_attn_gather`,
    with the constants that turn pixel positions into its rows.

    Every level is zero-padded by 1 pixel before and 2 after in x and y, so that
    after clamping x to [-1, W] and y to [-1, H] every corner of every point is a
    valid row, and corners outside the map read zeros (grid_sample's
    padding_mode="zeros") without a validity mask.
    """

    def __init__(self, value, spatial_shapes, *, n_heads: int, n_points: int):
        """value: (N, S, M*D), all levels flattened, channels last (value_proj's output)."""
        n, _, c = value.shape
        m, n_levels, dev, dt = n_heads, len(spatial_shapes), value.device, value.dtype
        padded = [(h + 3, w + 3) for h, w in spatial_shapes]
        table = value.new_empty(n, sum(h * w for h, w in padded), c)
        starts, src, dst = [], 0, 0
        for (h, w), (hp, wp) in zip(spatial_shapes, padded):
            level = table[:, dst:dst + hp * wp].view(n, hp, wp, c)
            level[:, 1:h + 1, 1:w + 1] = value[:, src:src + h * w].view(n, h, w, c)
            for border in (level[:, :1], level[:, h + 1:], level[:, 1:h + 1, :1], level[:, 1:h + 1, w + 1:]):
                border.zero_()
            starts.append(dst)
            src, dst = src + h * w, dst + hp * wp
        self.table = table.view(-1, c // m)
        self.rows_per_sample = dst * m
        self.channels = c

        # Constants over (xy, head, level, point), made whole so that the ops in
        # ms_deform_attn_gather run over contiguous rows (broadcasting small
        # dims is slow on the CPU).
        def full(per_level, lead):  # (lead, L) -> (lead, M, L, P)
            return per_level.view(lead, 1, n_levels, 1).expand(lead, m, n_levels, n_points).contiguous()

        size = torch.tensor([[w for _, w in spatial_shapes], [h for h, _ in spatial_shapes]], dtype=dt, device=dev)
        pad_w = size[0] + 3
        self.low = torch.full_like(full(size, 2), -1)
        self.high = full(size, 2)
        # Row of pixel (x0, y0) of head h: (start + (y0+1)*Wp + x0+1) * M + h + n*Sp*M
        #                                 = x0*M + y0*Wp*M + offset[h, level] + n*Sp*M.
        self.scale = full(torch.stack((torch.full_like(pad_w, m), pad_w * m)), 2)
        self.offset = (full((torch.tensor(starts, dtype=dt, device=dev) + pad_w + 1) * m, 1)[0]
                       + torch.arange(m, dtype=dt, device=dev).view(m, 1, 1))
        # The 4 corners' rows from the top-left one, in (y, x) order: +0, +M, +Wp*M, +Wp*M+M.
        step = (pad_w * m).to(torch.int32)
        corner = torch.stack((torch.zeros_like(step), torch.full_like(step, m), step, step + m))  # (4, L)
        self.corner = corner.view(4, n_levels, 1).expand(4, n_levels, n_points).contiguous()


def ms_deform_attn_gather(values: PaddedValues, xy, attention_logits, sample_rows):
    """The same sampling as `ms_deform_attn`, in pixel units, for inference.

    xy: (R, 2, M, L, P) sampling locations of R (sample, query) pairs in each
        level's pixels, x then y, where pixel centres are integers (grid_sample's
        align_corners=False frame); overwritten
    attention_logits: (R, M, L*P), before the softmax
    sample_rows: (R, 1, 1, 1) int32, the table row where each pair's sample starts
    returns (R, M*D)
    """
    r, _, m, n_levels, n_points = xy.shape
    xy = torch.clamp(xy, min=values.low, max=values.high, out=xy)
    xy0 = xy.floor()
    frac = xy.sub_(xy0)
    scaled = xy0.mul_(values.scale)
    # In float, exact: a row within one sample is far below 2**24 at any input size.
    row = torch.add(scaled[:, 0], scaled[:, 1]).add_(values.offset).to(torch.int32).add_(sample_rows)
    # A bag per (pair, head) of (corner, level, point); the order inside a bag is free.
    idx = row.unsqueeze(2) + values.corner  # (R, M, 4, L, P)

    a = attention_logits - attention_logits.amax(-1, keepdim=True)  # softmax, written out: 3x faster
    a = a.exp_()                                                   # than F.softmax over 12 on the CPU
    a = a.div_(a.sum(-1, keepdim=True)).view(r, m, n_levels, n_points)
    wx = torch.empty(r, m, 2, n_levels, n_points, dtype=xy.dtype, device=xy.device)
    wy = torch.empty_like(wx)
    wx[:, :, 1] = frac[:, 0]
    torch.sub(1, wx[:, :, 1], out=wx[:, :, 0])
    torch.mul(frac[:, 1], a, out=wy[:, :, 1])
    torch.sub(a, wy[:, :, 1], out=wy[:, :, 0])
    w = wy.unsqueeze(3) * wx.unsqueeze(2)  # (R, M, 2, 2, L, P): corners in (y, x) order
    per_bag = 4 * n_levels * n_points
    out = F.embedding_bag(idx.view(-1, per_bag), values.table, per_sample_weights=w.view(-1, per_bag), mode="sum")
    return out.view(r, values.channels)


class GatherMSDeformAttn(MSDeformAttn):
    """`MSDeformAttn` sampling by the gather at inference; the same parameters.
    With autograd on it is the reference (the gather's in-place steps have no
    gradient to the sampling locations)."""

    def forward(self, query, reference_points, input_flatten, spatial_shapes, *, pixel_reference=None):
        """As `MSDeformAttn.forward`; pixel_reference: `self.pixel_reference(reference_points, ...)`,
        if already made (encoder layers that share reference points share it)."""
        if torch.is_grad_enabled():
            return super().forward(query, reference_points, input_flatten, spatial_shapes)
        if pixel_reference is None:
            pixel_reference = self.pixel_reference(reference_points, spatial_shapes)
        n, lq, _ = query.shape
        m, lvl, pts = self.n_heads, self.n_levels, self.n_points
        w_off, b_off = self._pixel_offsets_projection()
        # Offsets plus reference points in one product: the reference enters where the bias would.
        xy = torch.baddbmm(pixel_reference + b_off, query, w_off.t().expand(n, -1, -1))
        xy = xy.view(n * lq, 2, m, lvl, pts)
        logits = self.attention_weights(query).view(n * lq, m, lvl * pts)
        values = PaddedValues(self.value_proj(input_flatten), spatial_shapes, n_heads=m, n_points=pts)
        sample_rows = (torch.arange(n, dtype=torch.int32, device=query.device) * values.rows_per_sample)
        sample_rows = sample_rows.repeat_interleave(lq).view(n * lq, 1, 1, 1)
        out = torch.empty(n * lq, self.d_model, dtype=query.dtype, device=query.device)
        # In chunks of (sample, query) pairs, so that the sampling's temporaries stay in the
        # CPU's cache; each chunk goes through output_proj while it is there.
        for i in range(0, n * lq, GATHER_CHUNK):
            part = slice(i, i + GATHER_CHUNK)
            sampled = ms_deform_attn_gather(values, xy[part], logits[part], sample_rows[part])
            torch.addmm(self.output_proj.bias, sampled, self.output_proj.weight.t(), out=out[part])
        return out.view(n, lq, self.d_model)

    def pixel_reference(self, reference_points, spatial_shapes):
        """Reference points (1|N, Lq, L, 2) in [0, 1] -> (1|N, Lq, 2*M*L*P) in each
        level's pixels, laid out as the gather's offsets."""
        sizes = torch.tensor([[w, h] for h, w in spatial_shapes], dtype=reference_points.dtype,
                             device=reference_points.device)
        ref = (reference_points * sizes - 0.5).permute(0, 1, 3, 2)[:, :, :, None, :, None]  # (1|N, Lq, 2, 1, L, 1)
        full = ref.expand(-1, -1, 2, self.n_heads, self.n_levels, self.n_points)
        return full.reshape(ref.shape[0], ref.shape[1], -1)

    def _pixel_offsets_projection(self):
        """sampling_offsets' weight and bias with rows reordered from (head, level, point, xy) to
        (xy, head, level, point), the layout of pixel_reference and of the gather. The offsets
        stay in pixels: grid_sample's x = loc * W - 0.5 with loc = ref + off / W is (ref * W - 0.5) + off."""
        m, lvl, pts = self.n_heads, self.n_levels, self.n_points
        w = self.sampling_offsets.weight.view(m, lvl, pts, 2, -1).permute(3, 0, 1, 2, 4).reshape(2 * m * lvl * pts, -1)
        b = self.sampling_offsets.bias.view(m, lvl, pts, 2).permute(3, 0, 1, 2).reshape(-1)
        return w, b
