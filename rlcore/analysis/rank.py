"""Effective rank of features (Kumar et al. 2021; Ota et al. 2021 section 4 and A.4).

srank_delta(Phi) = min{ k : sum_{i<=k} sigma_i / sum_i sigma_i >= 1 - delta }, with the singular
values sigma_1 >= sigma_2 >= ... of the feature matrix Phi (samples x features) unsquared, k counted
from 1, delta = 0.01. Phi is the penultimate layer of the Q-network over a fixed set of replay
transitions: of the critic trunk on [s, a] (or OFENet's z_sa) for state agents, on [projection(
encoder(s)), a] for pixel agents, read from the raw frames.
"""

from __future__ import annotations

import torch

DELTA = 0.01
# Cumulative sums are compared in float64 with a relative slack, so a sum that reaches exactly
# 1 - delta in exact arithmetic is not lost to rounding: 1e-9 for float64 singular values, and for
# lower precision (float32 SVDs) a slack above that precision's rounding of the values.
_REL_TOL = 1e-9
_REL_TOL_LOW_PRECISION = 1e-5


def srank_from_singular_values(sigma: torch.Tensor, delta: float = DELTA) -> torch.Tensor:
    """srank for singular values sorted in decreasing order along the last dim; shape (...,)."""
    if not 0.0 <= delta < 1.0:
        raise ValueError(f"delta={delta!r} is invalid: expected a number in [0, 1)")
    tol = _REL_TOL if sigma.dtype == torch.float64 else _REL_TOL_LOW_PRECISION
    sigma = sigma.to(torch.float64)
    cumulative = sigma.cumsum(-1)
    total = cumulative[..., -1:]
    reached = cumulative >= (1.0 - delta) * total - tol * total
    # first index where the threshold is reached, counted from 1; all-zero features have rank 0
    k = reached.to(torch.int64).argmax(-1) + 1
    return torch.where(total[..., 0] > 0, k, torch.zeros_like(k))


@torch.no_grad()
def srank(features: torch.Tensor, delta: float = DELTA) -> torch.Tensor:
    """Effective rank of (N, d) features, or of each member of (n, N, d) features -> shape (n,).
    The SVD runs in float64 for float64 features, in float32 otherwise."""
    dtype = torch.float64 if features.dtype == torch.float64 else torch.float32
    return srank_from_singular_values(torch.linalg.svdvals(features.to(dtype)), delta)


@torch.no_grad()
def critic_penultimate_features(agent, obs: torch.Tensor, action: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """(n_critics, N, feature_dim) penultimate features of every critic on (obs, action), in
    mini-batches of `batch_size` transitions: `agent.critic.features(agent.critic_features(obs,
    action))`. For a pixel agent (DrQ-v2, DrQ) that reads the raw uint8 frames through its encoder
    and critic projection (about 0.9 MB of activations per 9 x 84 x 84 frame, hence the batches)."""
    return torch.cat([agent.critic.features(agent.critic_features(obs[i:i + batch_size], action[i:i + batch_size]))
                      for i in range(0, obs.shape[0], batch_size)], dim=1)


@torch.no_grad()
def critic_feature_rank(agent, obs: torch.Tensor, action: torch.Tensor, delta: float = DELTA,
                        batch_size: int = 4096) -> list[int]:
    """srank of each critic's penultimate features on (obs, action): one number per critic."""
    was_training = agent.critic.training
    agent.critic.eval()  # BatchNorm reads running statistics, as when evaluating the policy
    try:
        return [int(v) for v in srank(critic_penultimate_features(agent, obs, action, batch_size), delta).cpu()]
    finally:
        agent.critic.train(was_training)
