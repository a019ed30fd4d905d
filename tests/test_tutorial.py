"""docs/tutorial.md runs as written: every block in order, on a folder of made-up images, with only
the substitutions below (shorter runs, fewer scored images, random Inception weights)."""
import json
import os
import re
import subprocess
import sys

import numpy as np

from tests.conftest import REPO

TUTORIAL = os.path.join(REPO, "docs", "tutorial.md")


def substitutions(weights):
    return {"experiments/configs/": os.path.join(REPO, "experiments", "configs") + "/",
            "--epochs=25": "--epochs=1", "--epochs=30": "--epochs=2",
            "--reference_images=1000 --num_samples=1000": "--reference_images=32 --num_samples=32",
            "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5": weights}


def made_up_images(folder, count=128):
    """PNGs and JPEGs of a non-square size: the tutorial's folder."""
    import keras

    os.makedirs(folder)
    rng = np.random.default_rng(0)
    for i in range(count):
        keras.utils.save_img(os.path.join(folder, f"{i:03d}.{'png' if i % 2 else 'jpg'}"),
                             rng.integers(0, 256, (48, 40, 3), dtype=np.uint8))


def random_inception_weights(path):
    import keras

    from keras_gan.inception import INPUT_SIZE

    keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None,
                                   input_shape=(INPUT_SIZE, INPUT_SIZE, 3)).save_weights(path)


def test_every_block_of_the_tutorial_runs_in_order(tmp_path):
    text = open(TUTORIAL, encoding="utf-8").read()
    blocks = re.findall(r"```(bash|python)\n(.*?)```", text, re.S)
    assert [language for language, _ in blocks].count("bash") >= 4
    made_up_images(str(tmp_path / "my_images"))
    weights = str(tmp_path / "inception.weights.h5")
    random_inception_weights(weights)
    replace = substitutions(weights)
    for old in replace:
        assert old in text, f"the tutorial no longer says {old}: update the substitutions"
    environment = {**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "2"}
    for language, code in blocks:
        for old, new in replace.items():
            code = code.replace(old, new)
        command = ["bash", "-ec", code] if language == "bash" else [sys.executable, "-c", code]
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                                timeout=600, env=environment)
        assert result.returncode == 0, f"{code}\n{result.stderr[-3000:]}"
    run = tmp_path / "runs" / "my_images"
    assert sorted(os.listdir(run / "samples")) == ["step_0000001.png", "step_0000002.png"]
    assert "inception_fid" in json.loads((run / "eval.json").read_text())
    for picture in ("sample.png", "grid.png"):
        assert (tmp_path / picture).stat().st_size > 0
