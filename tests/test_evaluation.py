"""The evaluation commands end to end on tiny data: classifier, evaluate, in-training callback."""
import json
import os

import numpy as np
import pytest

from keras_gan import evaluation
from tests.conftest import run_module

CONFIG = "--flagfile=experiments/configs/gan_pytorch.cfg"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny classifier and a tiny exported generator, shared by the tests below."""
    from tests.conftest import make_mnist_dir

    root = tmp_path_factory.mktemp("evaluation")
    mnist_dir = make_mnist_dir(str(root / "mnist"))
    classifier = str(root / "classifier.keras")
    result = run_module("experiments.train_classifier", f"--data_dir={mnist_dir}",
                        f"--out={classifier}", "--epochs=1", "--min_accuracy=0")
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = str(root / "run")
    result = run_module("experiments.vanilla", CONFIG, f"--data_dir={mnist_dir}",
                        f"--run_dir={run_dir}", "--batch_size=16", "--epochs=2",
                        "--eval_every_epochs=1", "--eval_metrics=parzen,fid,is,modes",
                        f"--eval_classifier={classifier}", "--eval_samples=50",
                        "--eval_validation_split=train[:100]", "--steps_per_call=4")
    assert result.returncode == 0, result.stderr[-3000:]
    return mnist_dir, classifier, run_dir


def test_train_classifier_saves_the_model_and_real_data_reference_scores(trained):
    _, classifier, _ = trained
    reference = json.load(open(classifier + ".json"))
    assert {"test_accuracy", "inception_score_test", "fid_test_vs_train"} <= reference.keys()
    assert 1.0 <= reference["inception_score_test"] <= 10.0


def test_evaluation_callback_logs_every_epoch(trained):
    _, _, run_dir = trained
    lines = open(os.path.join(run_dir, "eval_history.csv")).read().splitlines()
    header = lines[0].split(",")
    assert {"step", "epoch", "parzen_ll", "fid", "inception_score", "classes_covered"} <= set(header)
    assert len(lines) == 3  # header + epochs 1 and 2
    assert all(np.isfinite(float(v)) for v in lines[-1].split(",")[2:])


def test_evaluate_loads_only_the_saved_model_and_writes_eval_json(trained):
    mnist_dir, classifier, run_dir = trained
    result = run_module("experiments.evaluate", f"--generator={run_dir}/generator",
                        f"--data_dir={mnist_dir}", f"--classifier={classifier}",
                        "--num_samples=200", "--validation_split=train[:100]")
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.load(open(os.path.join(run_dir, "eval.json")))
    assert {"parzen_ll", "parzen_se", "parzen_sigma", "fid", "inception_score",
            "classes_covered", "class_histogram"} <= scores.keys()
    assert scores["num_samples"] == 200 and sum(scores["class_histogram"]) == 200
    assert "parzen_ll" in result.stdout


def test_evaluate_rejects_unknown_metrics_and_missing_classifier(trained, tmp_path):
    mnist_dir, _, run_dir = trained
    result = run_module("experiments.evaluate", f"--generator={run_dir}/generator",
                        f"--data_dir={mnist_dir}", "--metrics=parzen,bleu")
    assert result.returncode == 2 and "unknown bleu" in result.stderr
    result = run_module("experiments.evaluate", f"--generator={run_dir}/generator",
                        f"--data_dir={mnist_dir}", f"--classifier={tmp_path}/none.keras")
    assert result.returncode == 2 and "train one with" in result.stderr


def test_generated_images_are_mapped_to_mnist_pixels():
    images = np.full((2, 32, 32, 3), 1.0, np.float32)
    pixels = evaluation.to_mnist_pixels(images, (-1.0, 1.0))
    assert pixels.shape == (2, 28, 28, 1)
    np.testing.assert_allclose(pixels, 1.0, atol=1e-6)
