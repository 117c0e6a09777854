"""DrQ's pixel encoder, the projection head and the random-shift augmentation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rlcore.config import ConfigError
from rlcore.nets.encoders import PixelEncoder, Projection, random_shift


def test_encoder_of_84x84_gives_32x35x35_features():
    enc = PixelEncoder((9, 84, 84))
    assert enc.out_shape == (32, 35, 35) and enc.repr_dim == 39_200
    convs = [m for m in enc.convs if isinstance(m, nn.Conv2d)]
    assert [c.stride for c in convs] == [(2, 2), (1, 1), (1, 1), (1, 1)]
    assert all(c.kernel_size == (3, 3) and c.out_channels == 32 for c in convs)
    out = enc(torch.randint(0, 256, (5, 9, 84, 84), dtype=torch.uint8))
    assert out.shape == (5, 39_200) and (out >= 0).all()  # after ReLU


@pytest.mark.parametrize("scale, low, high", [("unit", 0.0, 1.0), ("centered", -0.5, 0.5)])
def test_input_scaling(scale, low, high):
    enc = PixelEncoder((3, 84, 84), scale=scale)
    seen = {}
    enc.convs[0].register_forward_hook(lambda m, inp, out: seen.update(x=inp[0]))
    enc(torch.tensor([0, 255], dtype=torch.uint8).repeat_interleave(3 * 84 * 42).view(1, 3, 84, 84))
    assert seen["x"].min().item() == pytest.approx(low) and seen["x"].max().item() == pytest.approx(high)


def test_bad_scale_is_a_config_error():
    with pytest.raises(ConfigError, match="scale"):
        PixelEncoder((3, 84, 84), scale="imagenet")


def test_projection_is_linear_layernorm_tanh():
    proj = Projection(39_200)
    y = proj(torch.randn(4, 39_200) * 10)
    assert y.shape == (4, 50) and y.abs().max() < 1.0
    assert torch.allclose(proj.linear.bias, torch.zeros(50))  # orthogonal init, zero bias


def test_random_shift_is_an_integer_shift_within_pad_with_replicated_borders():
    torch.manual_seed(0)
    b, pad = 64, 4
    images = torch.randint(0, 256, (b, 3, 20, 20), dtype=torch.uint8)
    shifted = random_shift(images, pad)
    assert shifted.shape == images.shape and shifted.dtype == torch.uint8
    padded = nn.functional.pad(images.float(), (pad,) * 4, mode="replicate")
    offsets = set()
    for i in range(b):
        # exactly one integer offset in [0, 2 pad]^2 of the replicate-padded image reproduces the output
        hits = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                if torch.equal(padded[i, :, dy:dy + 20, dx:dx + 20], shifted[i].float())]
        assert len(hits) >= 1
        offsets.add(hits[0])
    assert len(offsets) > 10  # independent shifts per sample


def test_random_shift_of_zero_pad_is_the_identity_and_negative_pad_is_refused():
    x = torch.rand(2, 3, 8, 8)
    assert random_shift(x, 0) is x
    with pytest.raises(ConfigError, match="pad"):
        random_shift(x, -1)
