"""The 2-D Gaussian-mixture benchmark for mode collapse (VEEGAN, Srivastava et al. 2017; PacGAN,
Lin et al. 2018): data sets and their mode metrics, exactly as PacGAN's code configures them."""
from __future__ import annotations

import dataclasses
from typing import Dict

import numpy as np


@dataclasses.dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of isotropic 2-D Gaussians."""

    centres: np.ndarray  # (modes, 2)
    std: float

    def sample(self, count: int, seed: int) -> np.ndarray:
        rng = np.random.RandomState(seed)
        modes = rng.randint(len(self.centres), size=count)
        return (self.centres[modes] + self.std * rng.randn(count, 2)).astype(np.float32)


def _ring(modes: int = 8) -> np.ndarray:
    angles = 2 * np.pi * np.arange(modes) / modes
    return np.stack([np.cos(angles), np.sin(angles)], 1)


def _grid() -> np.ndarray:
    axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    return np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)


MIXTURES: Dict[str, Mixture] = {"ring": Mixture(_ring(), 0.01), "grid": Mixture(_grid(), 0.05)}


def mode_metrics(samples: np.ndarray, mixture: Mixture) -> Dict[str, float]:
    """PacGAN's metrics. A sample is high-quality when its distance to the nearest centre is
    under 3 standard deviations; `modes` counts centres with at least one such sample;
    `reverse_kl` is KL(q || uniform) of the high-quality samples' histogram over the modes
    (None when there is no high-quality sample).

    `mode_spread`, not PacGAN's, says what those three cannot: the root-mean-square distance of
    the high-quality samples to their centre, per axis, in standard deviations. Data scores
    ~0.97 (a Gaussian cut at 3 std); a G that shrinks each mode to a point scores near 0 while
    its quality rises, so a recipe's gain in quality is honest only at a similar spread."""
    samples = np.asarray(samples, np.float64).reshape(-1, 2)
    distances = np.linalg.norm(samples[:, None, :] - mixture.centres[None], axis=-1) / mixture.std
    nearest, nearest_distance = distances.argmin(1), distances.min(1)
    good = nearest_distance < 3.0
    counts = np.bincount(nearest[good], minlength=len(mixture.centres)).astype(np.float64)
    reverse_kl = spread = None
    if counts.sum():
        q = counts[counts > 0] / counts.sum()
        reverse_kl = float(np.sum(q * np.log(q * len(mixture.centres))))
        spread = float(np.sqrt(np.mean(nearest_distance[good] ** 2) / 2))
    return {"modes": int((counts > 0).sum()), "high_quality": float(good.mean()),
            "reverse_kl": reverse_kl, "mode_spread": spread}
