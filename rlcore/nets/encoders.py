"""Pixel encoders and image augmentation of DrQ (Kostrikov et al. 2020) and DrQ-v2 (Yarats et al. 2021).

`PixelEncoder`: four 3x3 convolutions of 32 filters, the first with stride 2, each followed by ReLU;
an 84x84 input becomes 32 x 35 x 35 features (39,200), flattened. Inputs are uint8 frames scaled to
[0, 1] (DrQ, `scale="unit"`) or [-0.5, 0.5] (DrQ-v2, `scale="centered"`).

`Projection`: Linear(repr, 50) -> LayerNorm -> tanh. DrQ puts it in the encoder (shared by actor
and critic); DrQ-v2 gives the actor and the critic one each (their "trunk").

`random_shift`: pad each image by `pad` pixels replicating its border, then crop back to its size at
a random integer offset in [0, 2 pad] per sample: an independent shift of up to +-pad pixels for each
image of the batch (DrQ's and DrQ-v2's augmentation; DrQ-v2 draws the shift on a sub-pixel grid and
rounds it to whole pixels, as this does directly).
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import ConfigError
from .layers import EnsembleLinear, SpectralLinear

SCALES = ("unit", "centered")
FILTERS = 32
FEATURE_DIM = 50


def orthogonal_init(module: nn.Module) -> None:
    """DrQ's / DrQ-v2's init (`module.apply(orthogonal_init)`): orthogonal weights (ReLU gain for
    convolutions), zero biases. Zoo heads (`EnsembleLinear`) get one orthogonal matrix per member;
    a spectrally normalized layer then re-estimates its singular vectors."""
    if isinstance(module, EnsembleLinear):
        for member in module.weight.data:
            nn.init.orthogonal_(member)
        module.bias.data.fill_(0.0)
        if isinstance(module, SpectralLinear):
            module.reset_vectors()
    elif isinstance(module, nn.Linear):
        nn.init.orthogonal_(module.weight.data)
        if module.bias is not None:
            module.bias.data.fill_(0.0)
    elif isinstance(module, nn.Conv2d):
        nn.init.orthogonal_(module.weight.data, nn.init.calculate_gain("relu"))
        if module.bias is not None:
            module.bias.data.fill_(0.0)


class PixelEncoder(nn.Module):
    """(B, C, H, W) uint8 (or float in [0, 255]) -> (B, repr_dim) conv features."""

    def __init__(self, obs_shape: tuple[int, int, int], scale: str = "unit", filters: int = FILTERS):
        super().__init__()
        if scale not in SCALES:
            raise ConfigError("scale", scale, f"one of {', '.join(map(repr, SCALES))}")
        if len(obs_shape) != 3:
            raise ConfigError("obs_shape", obs_shape, "(channels, height, width)")
        self.obs_shape, self.scale = tuple(obs_shape), scale
        channels = obs_shape[0]
        self.convs = nn.Sequential(
            nn.Conv2d(channels, filters, 3, stride=2), nn.ReLU(),
            nn.Conv2d(filters, filters, 3, stride=1), nn.ReLU(),
            nn.Conv2d(filters, filters, 3, stride=1), nn.ReLU(),
            nn.Conv2d(filters, filters, 3, stride=1), nn.ReLU())
        with torch.no_grad():
            self.out_shape = tuple(self.convs(torch.zeros(1, *obs_shape)).shape[1:])
        self.repr_dim = int(torch.tensor(self.out_shape).prod())
        self.apply(orthogonal_init)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        # The same arithmetic as `obs.float() / 255.0 (- 0.5)` then `self.convs`, with fewer
        # full-size temporaries: scaled in place when `.float()` made a copy, and each ReLU in place
        # on its convolution's output (a convolution's backward needs its input, not its output).
        # Pixel batches are large (DrQ: 1024 x 9 x 84 x 84 floats = 260 MB), and every fresh tensor
        # of that size costs page faults on a CPU.
        x = obs.float()
        owned = x is not obs
        x = x.div_(255.0) if owned else x / 255.0
        if self.scale == "centered":
            x = x.sub_(0.5) if owned else x - 0.5
        for layer in self.convs:
            x = torch.relu_(x) if isinstance(layer, nn.ReLU) else layer(x)
        return x.flatten(1)


class Projection(nn.Module):
    """Linear(in, feature_dim) -> LayerNorm -> tanh."""

    def __init__(self, in_dim: int, feature_dim: int = FEATURE_DIM):
        super().__init__()
        self.linear, self.norm = nn.Linear(in_dim, feature_dim), nn.LayerNorm(feature_dim)
        self.feature_dim = feature_dim
        self.apply(orthogonal_init)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.norm(self.linear(h)))


def random_shift(images: torch.Tensor, pad: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image of (B, C, H, W) shifted by its own random integer offset in [-pad, pad]^2, the
    border replicated; same dtype and shape as the input (contiguous).

    The offsets are one `torch.randint(0, 2 pad + 1, (B, 2))` draw (row, column), so a generator
    in a given state gives the same shifts on every path. The images keep their dtype throughout
    (uint8 frames are never converted to float here). On a CPU each image is padded and cropped
    on its own (cache-sized copies, ~10x faster than one gather over the batch); elsewhere one
    gather with the border indices clamped, which is the same as replicate padding then cropping."""
    if pad < 0:
        raise ConfigError("pad", pad, "an integer >= 0")
    if pad == 0:
        return images
    b, _, h, w = images.shape
    offsets = torch.randint(0, 2 * pad + 1, (b, 2), device=images.device, generator=generator)
    if images.device.type == "cpu":
        return _shift_per_image(images, offsets, pad)
    return _shift_gather(images, offsets, pad)


def _shift_per_image(images: torch.Tensor, offsets: torch.Tensor, pad: int) -> torch.Tensor:
    """Image i is images[i] replicate-padded by `pad`, cropped at (offsets[i, 0], offsets[i, 1])."""
    _, _, h, w = images.shape
    out = torch.empty(images.shape, dtype=images.dtype, device=images.device)
    for i, (dy, dx) in enumerate(offsets.tolist()):
        padded = nn.functional.pad(images[i], (pad, pad, pad, pad), mode="replicate")
        out[i] = padded[:, dy:dy + h, dx:dx + w]
    return out


def _shift_gather(images: torch.Tensor, offsets: torch.Tensor, pad: int) -> torch.Tensor:
    """The same crops as `_shift_per_image` in one indexing kernel (for GPUs): row r of crop i is
    row clamp(offsets[i, 0] + r - pad, 0, H - 1) of the image, columns likewise."""
    b, _, h, w = images.shape
    rows = (offsets[:, :1] + torch.arange(h, device=images.device) - pad).clamp_(0, h - 1).unsqueeze(-1)  # (B, H, 1)
    cols = (offsets[:, 1:] + torch.arange(w, device=images.device) - pad).clamp_(0, w - 1).unsqueeze(1)   # (B, 1, W)
    batch = torch.arange(b, device=images.device).view(b, 1, 1)
    return images.transpose(0, 1)[:, batch, rows, cols].transpose(0, 1).contiguous()  # (C, B, H, W) -> (B, C, H, W)
