import json

import numpy as np
import pytest
import tensorflow as tf

from keras_gan import mixtures
from tests.conftest import run_module

RING, GRID = mixtures.MIXTURES["ring"], mixtures.MIXTURES["grid"]


def test_mixtures_are_pacgans():
    np.testing.assert_allclose(np.linalg.norm(RING.centres, axis=1), np.ones(8))
    assert RING.std == 0.01 and GRID.std == 0.05 and len(GRID.centres) == 25
    assert set(GRID.centres[:, 0]) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    points = GRID.sample(50_000, seed=0)
    nearest = np.linalg.norm(points[:, None] - GRID.centres[None], axis=-1)
    assert abs(nearest.min(1).std() / 0.05 - np.sqrt(2 - np.pi / 2)) < 0.05  # Rayleigh spread
    assert np.bincount(nearest.argmin(1)).min() > 1800  # every mode about 1/25 of the points


def test_samples_from_the_mixture_cover_every_mode_with_zero_reverse_kl():
    scores = mixtures.mode_metrics(GRID.centres.repeat(40, 0), GRID)
    assert scores == {"modes": 25, "high_quality": 1.0, "reverse_kl": 0.0, "mode_spread": 0.0}
    scores = mixtures.mode_metrics(RING.sample(2500, seed=1), RING)
    assert scores["modes"] == 8 and scores["high_quality"] > 0.98 and scores["reverse_kl"] < 0.01
    # the data's own spread: a 2-D unit Gaussian cut at radius 3 has E[r^2] = 1.899
    assert scores["mode_spread"] == pytest.approx(np.sqrt(1.899 / 2), abs=0.02)


def test_a_collapsed_generator_scores_one_mode_and_log_k():
    collapsed = RING.centres[3] + np.zeros((100, 2))
    scores = mixtures.mode_metrics(collapsed, RING)
    assert scores["modes"] == 1
    np.testing.assert_allclose(scores["reverse_kl"], np.log(8))


def test_quality_counts_only_samples_within_three_standard_deviations():
    near = RING.centres[0] + [0.029, 0.0]  # 2.9 std
    far = RING.centres[1] + [0.031, 0.0]   # 3.1 std
    scores = mixtures.mode_metrics(np.stack([near, far]), RING)
    assert scores == {"modes": 1, "high_quality": 0.5, "reverse_kl": pytest.approx(np.log(8)),
                      "mode_spread": pytest.approx(2.9 / np.sqrt(2))}
    far_only = mixtures.mode_metrics(np.full((5, 2), 10.0), RING)
    assert far_only["reverse_kl"] is None and far_only["mode_spread"] is None


def test_mixture_program_prints_json_and_exports_a_point_generator(tmp_path):
    run_dir = tmp_path / "run"
    result = run_module("experiments.mixture", "--flagfile=experiments/configs/mixture_grid.cfg",
                        f"--run_dir={run_dir}", "--num_points=2000", "--max_steps=4",
                        "--steps_per_execution=2", "--sample_every=2", "--eval_samples=300",
                        "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(scores) == {"modes", "high_quality", "reverse_kl", "mode_spread"}
    assert 0 <= scores["modes"] <= 25
    assert (run_dir / "samples" / "step_0000004.png").exists()
    assert "--mixture=grid" in (run_dir / "flags.cfg").read_text()  # the program's own flag
    header = (run_dir / "eval_history.csv").read_text().splitlines()[0].split(",")
    assert header == ["step", "epoch", "train_seconds", "modes", "high_quality", "reverse_kl",
                      "mode_spread"]
    assert (run_dir / "eval_history.png").exists()
    generator = tf.saved_model.load(str(run_dir / "generator"))
    assert generator.sample(tf.constant(7))["images"].shape == (7, 2)
