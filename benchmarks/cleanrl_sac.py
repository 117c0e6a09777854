"""CleanRL's SAC training loop, re-implemented for speed comparisons (not used by rlcore).

The loop shape of CleanRL's `cleanrl/sac_continuous_action.py` (Huang et al. 2022, MIT licence,
https://github.com/vwxyzjn/cleanrl), written here from a reading of it so that
`benchmarks/cleanrl_speed.py` can time it and rlcore's trainer in one process. What it keeps,
because it is what the clock sees:

- a 1-env `gymnasium.vector.SyncVectorEnv` with `RecordEpisodeStatistics`, the final observation of
  a truncated episode put back before storing (same-step autoreset, gymnasium 1.x);
- a numpy replay like stable-baselines3's: one slot per step, sampled with `np.random.randint`
  and copied to torch tensors at every sample;
- separate `nn.Linear` networks: actor (256, 256, mean and log-std heads; log-std through tanh into
  [-5, 2]), two Q networks and two target copies;
- `torch.optim.Adam` with its defaults (no fused kernel), one optimizer for both Q networks;
- every step: one critic update on the sum of the two MSE losses; every `policy_frequency` (2)
  steps, `policy_frequency` actor updates, each followed by a temperature update that recomputes
  log pi under no_grad, and `alpha = log_alpha.exp().item()`; the Q networks' weight gradients are
  computed in the actor's backward pass (they are not frozen) and cleared by the next zero_grad;
- the target update as a Python loop over parameters, every step;
- every 100 steps, the `.item()` reads of its logged scalars (no TensorBoard writer here).

Learning rates, tau, gamma, batch size and the network sizes are CleanRL's defaults.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class QNetwork(nn.Module):
    def __init__(self, obs_dim: int, action_dim: int, width: int = 256):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(obs_dim + action_dim, width), nn.Linear(width, width), nn.Linear(width, 1)

    def forward(self, obs, action):
        h = F.relu(self.fc1(torch.cat([obs, action], 1)))
        return self.fc3(F.relu(self.fc2(h)))


class Actor(nn.Module):
    def __init__(self, obs_dim: int, action_dim: int, low: np.ndarray, high: np.ndarray, width: int = 256):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(obs_dim, width), nn.Linear(width, width)
        self.fc_mean, self.fc_logstd = nn.Linear(width, action_dim), nn.Linear(width, action_dim)
        self.register_buffer("action_scale", torch.tensor((high - low) / 2.0, dtype=torch.float32))
        self.register_buffer("action_bias", torch.tensor((high + low) / 2.0, dtype=torch.float32))

    def forward(self, obs):
        h = F.relu(self.fc2(F.relu(self.fc1(obs))))
        log_std = torch.tanh(self.fc_logstd(h))
        return self.fc_mean(h), LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1)

    def get_action(self, obs):
        mean, log_std = self(obs)
        normal = torch.distributions.Normal(mean, log_std.exp())
        u = normal.rsample()
        y = torch.tanh(u)
        log_prob = normal.log_prob(u) - torch.log(self.action_scale * (1 - y.pow(2)) + 1e-6)
        return y * self.action_scale + self.action_bias, log_prob.sum(1, keepdim=True)


class NumpyReplay:
    """Stable-baselines3's ReplayBuffer layout for one environment: numpy arrays, torch at sampling."""

    def __init__(self, size: int, obs_dim: int, action_dim: int):
        self.size, self.pos, self.full = size, 0, False
        self.obs = np.zeros((size, 1, obs_dim), np.float32)
        self.next_obs = np.zeros((size, 1, obs_dim), np.float32)
        self.actions = np.zeros((size, 1, action_dim), np.float32)
        self.rewards = np.zeros((size, 1), np.float32)
        self.dones = np.zeros((size, 1), np.float32)

    def add(self, obs, next_obs, action, reward, done) -> None:
        self.obs[self.pos], self.next_obs[self.pos] = np.array(obs), np.array(next_obs)
        self.actions[self.pos], self.rewards[self.pos], self.dones[self.pos] = np.array(action), reward, done
        self.pos = (self.pos + 1) % self.size
        self.full = self.full or self.pos == 0

    def sample(self, batch_size: int):
        idx = np.random.randint(0, self.size if self.full else self.pos, size=batch_size)
        env = np.zeros(batch_size, dtype=np.int64)
        return tuple(torch.tensor(a) for a in (self.obs[idx, env], self.actions[idx, env], self.next_obs[idx, env],
                                               self.dones[idx, env].reshape(-1, 1), self.rewards[idx, env].reshape(-1, 1)))


class CleanRLSAC:
    """The loop, advanced `steps(n)` global steps at a time (so another loop can run in between)."""

    def __init__(self, env_id: str, seed: int = 1, learning_starts: int = 5000, batch_size: int = 256,
                 buffer_size: int = 1_000_000, gamma: float = 0.99, tau: float = 0.005, policy_lr: float = 3e-4,
                 q_lr: float = 1e-3, policy_frequency: int = 2):
        np.random.seed(seed)
        torch.manual_seed(seed)
        self.envs = gym.vector.SyncVectorEnv([lambda: gym.wrappers.RecordEpisodeStatistics(gym.make(env_id))],
                                             autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        self.envs.single_action_space.seed(seed)
        obs_dim = int(np.prod(self.envs.single_observation_space.shape))
        space = self.envs.single_action_space
        action_dim = int(np.prod(space.shape))
        self.actor = Actor(obs_dim, action_dim, space.low, space.high)
        self.qf1, self.qf2 = QNetwork(obs_dim, action_dim), QNetwork(obs_dim, action_dim)
        self.qf1_target, self.qf2_target = QNetwork(obs_dim, action_dim), QNetwork(obs_dim, action_dim)
        self.qf1_target.load_state_dict(self.qf1.state_dict())
        self.qf2_target.load_state_dict(self.qf2.state_dict())
        self.q_optimizer = torch.optim.Adam(list(self.qf1.parameters()) + list(self.qf2.parameters()), lr=q_lr)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=policy_lr)
        self.target_entropy = -float(action_dim)
        self.log_alpha = torch.zeros(1, requires_grad=True)
        self.alpha = self.log_alpha.exp().item()
        self.a_optimizer = torch.optim.Adam([self.log_alpha], lr=q_lr)
        self.rb = NumpyReplay(buffer_size, obs_dim, action_dim)
        self.learning_starts, self.batch_size, self.gamma, self.tau = learning_starts, batch_size, gamma, tau
        self.policy_frequency = policy_frequency
        self.obs, _ = self.envs.reset(seed=seed)
        self.global_step = 0
        self.logged: dict[str, float] = {}

    def steps(self, n: int) -> None:
        for _ in range(n):
            self._step(self.global_step)
            self.global_step += 1

    def _step(self, step: int) -> None:
        if step < self.learning_starts:
            actions = np.array([self.envs.single_action_space.sample()])
        else:
            actions, _ = self.actor.get_action(torch.Tensor(self.obs))
            actions = actions.detach().cpu().numpy()
        next_obs, rewards, terminations, truncations, infos = self.envs.step(actions)
        real_next_obs = next_obs.copy()
        for i, truncated in enumerate(truncations):
            if truncated:
                real_next_obs[i] = infos["final_obs"][i]
        self.rb.add(self.obs, real_next_obs, actions, rewards, terminations)
        self.obs = next_obs
        if step > self.learning_starts:
            self._train(step)

    def _train(self, step: int) -> None:
        obs, actions, next_obs, dones, rewards = self.rb.sample(self.batch_size)
        with torch.no_grad():
            next_actions, next_log_pi = self.actor.get_action(next_obs)
            min_next = torch.min(self.qf1_target(next_obs, next_actions),
                                 self.qf2_target(next_obs, next_actions)) - self.alpha * next_log_pi
            target = rewards.flatten() + (1 - dones.flatten()) * self.gamma * min_next.view(-1)
        q1, q2 = self.qf1(obs, actions).view(-1), self.qf2(obs, actions).view(-1)
        q1_loss, q2_loss = F.mse_loss(q1, target), F.mse_loss(q2, target)
        q_loss = q1_loss + q2_loss
        self.q_optimizer.zero_grad()
        q_loss.backward()
        self.q_optimizer.step()

        if step % self.policy_frequency == 0:
            for _ in range(self.policy_frequency):
                pi, log_pi = self.actor.get_action(obs)
                actor_loss = (self.alpha * log_pi - torch.min(self.qf1(obs, pi), self.qf2(obs, pi))).mean()
                self.actor_optimizer.zero_grad()
                actor_loss.backward()
                self.actor_optimizer.step()
                with torch.no_grad():
                    _, log_pi = self.actor.get_action(obs)
                alpha_loss = (-self.log_alpha.exp() * (log_pi + self.target_entropy)).mean()
                self.a_optimizer.zero_grad()
                alpha_loss.backward()
                self.a_optimizer.step()
                self.alpha = self.log_alpha.exp().item()

        for net, target_net in ((self.qf1, self.qf1_target), (self.qf2, self.qf2_target)):
            for p, tp in zip(net.parameters(), target_net.parameters()):
                tp.data.copy_(self.tau * p.data + (1 - self.tau) * tp.data)

        if step % 100 == 0:
            self.logged = {"qf1_values": q1.mean().item(), "qf2_values": q2.mean().item(), "qf1_loss": q1_loss.item(),
                           "qf2_loss": q2_loss.item(), "qf_loss": q_loss.item() / 2.0, "alpha": self.alpha}
            if step % self.policy_frequency == 0:
                self.logged.update(actor_loss=actor_loss.item(), alpha_loss=alpha_loss.item())
