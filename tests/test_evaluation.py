"""The evaluation commands end to end on tiny data: classifier, evaluate, in-training callback."""
import hashlib
import json
import os
import shutil

import numpy as np
import pytest

from keras_gan import classifier as classifier_module
from keras_gan import evaluation
from keras_gan.errors import KerasGanError
from tests.conftest import run_module

CONFIG = "--flagfile=experiments/configs/gan_pytorch.cfg"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny classifier and a tiny exported generator, shared by the tests below."""
    from tests.conftest import make_mnist_dir

    root = tmp_path_factory.mktemp("evaluation")
    mnist_dir = make_mnist_dir(str(root / "mnist"))
    classifier = str(root / "classifier.weights.h5")
    result = run_module("experiments.train_classifier", f"--data_dir={mnist_dir}",
                        f"--out={classifier}", "--epochs=1", "--min_accuracy=0")
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = str(root / "run")
    result = run_module("experiments.vanilla", CONFIG, f"--data_dir={mnist_dir}",
                        f"--run_dir={run_dir}", "--batch_size=16", "--epochs=2",
                        "--eval_every_epochs=1", "--eval_metrics=parzen,fid,is,modes",
                        f"--eval_classifier={classifier}", "--eval_samples=50",
                        "--eval_validation_split=train[:100]", "--steps_per_execution=4")
    assert result.returncode == 0, result.stderr[-3000:]
    return mnist_dir, classifier, run_dir


def test_train_classifier_saves_the_model_and_real_data_reference_scores(trained):
    _, classifier, _ = trained
    reference = json.load(open(classifier.replace(".weights.h5", ".json")))
    assert {"test_accuracy", "inception_score_test", "fid_test_vs_train", "sha256",
            "precision_test_vs_train", "recall_test_vs_train"} <= reference.keys()
    assert 1.0 <= reference["inception_score_test"] <= 10.0
    assert reference["sha256"] == hashlib.sha256(open(classifier, "rb").read()).hexdigest()


def test_the_packaged_classifier_is_recorded_and_classifies_digits():
    record = json.load(open(classifier_module.record_path(classifier_module.PACKAGED)))
    assert record["sha256"] == classifier_module.sha256(classifier_module.PACKAGED)
    assert record["test_accuracy"] >= 0.99
    model = classifier_module.load_classifier()
    ones = np.zeros((1, 28, 28, 1), np.float32)
    ones[0, 4:24, 13:15] = 1.0  # a vertical stroke: a "1"
    assert np.argmax(model(ones, training=False)) == 1


def test_a_classifier_whose_bytes_changed_is_refused(tmp_path):
    weights = tmp_path / "c.weights.h5"
    shutil.copy(classifier_module.PACKAGED, weights)
    record = json.load(open(classifier_module.record_path(classifier_module.PACKAGED)))
    (tmp_path / "c.json").write_text(json.dumps({**record, "sha256": "0" * 64}))
    with pytest.raises(KerasGanError, match="SHA-256 differs"):
        classifier_module.load_classifier(str(weights))


def test_evaluation_callback_logs_every_epoch(trained):
    _, _, run_dir = trained
    lines = open(os.path.join(run_dir, "eval_history.csv")).read().splitlines()
    header = lines[0].split(",")
    assert {"step", "epoch", "parzen_ll", "fid", "inception_score",
            "classes_covered"} <= set(header)
    assert len(lines) == 3  # header + epochs 1 and 2
    assert all(np.isfinite(float(v)) for v in lines[-1].split(",")[2:])


def test_evaluate_uses_the_packaged_classifier_and_writes_eval_json(trained):
    mnist_dir, _, run_dir = trained
    result = run_module("experiments.evaluate", f"--generator={run_dir}/generator",
                        f"--data_dir={mnist_dir}", "--num_samples=200",
                        "--validation_split=train[:100]")
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.load(open(os.path.join(run_dir, "eval.json")))
    assert {"parzen_ll", "parzen_se", "parzen_sigma", "fid", "inception_score",
            "classes_covered", "class_histogram", "precision", "recall"} <= scores.keys()
    assert scores["num_samples"] == 200 and sum(scores["class_histogram"]) == 200
    assert "label_accuracy" not in scores  # an unconditional generator
    assert "parzen_ll" in result.stdout


def test_evaluate_rejects_unknown_metrics_and_missing_classifier(trained, tmp_path):
    mnist_dir, _, run_dir = trained
    result = run_module("experiments.evaluate", f"--generator={run_dir}/generator",
                        f"--data_dir={mnist_dir}", "--metrics=parzen,bleu")
    assert result.returncode == 2 and "unknown bleu" in result.stderr
    result = run_module("experiments.evaluate", f"--generator={run_dir}/generator",
                        f"--data_dir={mnist_dir}", f"--classifier={tmp_path}/none.keras")
    assert result.returncode == 2 and "train one with" in result.stderr
    # the default validation split, train[50000:51000], is empty in 256 images
    result = run_module("experiments.evaluate", f"--generator={run_dir}/generator",
                        f"--data_dir={mnist_dir}", "--metrics=parzen", "--num_samples=8")
    assert result.returncode == 2 and ("--validation_split=train[50000:51000]: no images in "
                                       in result.stderr)


def test_generated_images_are_mapped_to_mnist_pixels():
    images = np.full((2, 32, 32, 3), 1.0, np.float32)
    pixels = evaluation.to_mnist_pixels(images, (-1.0, 1.0))
    assert pixels.shape == (2, 28, 28, 1)
    np.testing.assert_allclose(pixels, 1.0, atol=1e-6)


def test_in_training_reference_caps_parzen_but_not_the_classifier_scores():
    """Parzen scores only the first `parzen_test_images`; FID compares with every test image."""
    from keras_gan import metrics

    rng = np.random.default_rng(0)
    validation, test, samples = (rng.uniform(size=(n, 28, 28, 1)).astype(np.float32)
                                 for n in (20, 60, 30))
    classifier = classifier_module.load_classifier()
    scores = evaluation.MnistReference(validation, test, classifier,
                                       parzen_test_images=10).evaluate(samples, ["parzen", "fid"])
    parzen = metrics.parzen_evaluation(samples, validation, test[:10])
    assert scores["parzen_ll"] == pytest.approx(parzen["parzen_ll"])
    assert scores["parzen_ll"] != pytest.approx(
        metrics.parzen_evaluation(samples, validation, test)["parzen_ll"])
    features = lambda images: classifier_module.features_and_probabilities(  # noqa: E731
        classifier, images)[0]
    assert scores["fid"] == pytest.approx(metrics.frechet_distance(features(samples),
                                                                   features(test)))
