import torch

from clipvis.train.points import point_sample, uncertain_point_coords


def test_point_sample_is_bilinear_over_pixel_centres():
    maps = torch.tensor([[[0.0, 1.0], [2.0, 3.0]]])
    coords = torch.tensor([[[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.5, 0.5], [0.5, 0.25], [0.0, 0.0],
                            [1.0, 1.0]]])
    # Pixel centres give the pixel, the middle the mean, the outer edges the border pixel.
    assert point_sample(maps, coords).tolist() == [[0.0, 1.0, 2.0, 1.5, 0.5, 0.0, 3.0]]


def test_point_sample_samples_prediction_and_target_at_the_same_places():
    # A (4, 4) prediction and its (16, 16) full-size target agree point by point.
    target = torch.zeros(1, 16, 16)
    target[:, :8, :] = 1
    small = torch.zeros(1, 4, 4)
    small[:, :2, :] = 1
    coords = torch.rand(1, 200, 2, generator=torch.Generator().manual_seed(0))
    far = (coords[..., 1] - 0.5).abs() > 0.13  # away from the edge, where the resolutions differ
    assert torch.allclose(point_sample(target, coords)[far], point_sample(small, coords)[far], atol=1e-6)


def test_uncertain_points_go_where_the_logits_are_near_zero():
    logits = torch.full((2, 16, 16), 20.0)
    logits[:, :, :8] = 0.0  # left half uncertain
    g = torch.Generator().manual_seed(0)
    coords = uncertain_point_coords(logits, num_points=64, oversample_ratio=3.0, importance_ratio=0.75,
                                    generator=g)
    assert coords.shape == (2, 64, 2)
    assert (coords >= 0).all() and (coords <= 1).all()
    important, uniform = coords[:, :48], coords[:, 48:]
    assert (important[..., 0] < 0.5 + 1 / 16).all()  # all 48 from the uncertain half
    assert (uniform[..., 0] > 0.5).any()  # the rest still covers the whole image
    only_uniform = uncertain_point_coords(logits, num_points=64, oversample_ratio=3.0, importance_ratio=0.0,
                                          generator=g)
    assert (only_uniform[..., 0] > 0.5).sum() > 32
