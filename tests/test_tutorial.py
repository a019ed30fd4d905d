"""docs/tutorial.md runs as written: every block in order, from a folder holding `experiments/`
as the repository root does, on a folder of made-up images. Only sizes are substituted (steps,
scored images); the Inception weights are random ones placed in a private Keras cache, where a
first online run downloads the real ones."""
import json
import os
import re
import subprocess
import sys

import numpy as np

from tests.conftest import REPO

TUTORIAL = os.path.join(REPO, "docs", "tutorial.md")


SUBSTITUTIONS = {"--max_steps=600": "--max_steps=2", "--max_steps=800": "--max_steps=4",
                 "--reference_images=1000 --num_samples=1000":
                     "--reference_images=32 --num_samples=32"}


def made_up_images(folder, count=128):
    """PNGs and JPEGs of a non-square size: the tutorial's folder."""
    import keras

    os.makedirs(folder)
    rng = np.random.default_rng(0)
    for i in range(count):
        keras.utils.save_img(os.path.join(folder, f"{i:03d}.{'png' if i % 2 else 'jpg'}"),
                             rng.integers(0, 256, (48, 40, 3), dtype=np.uint8))


def random_inception_weights(keras_home):
    """Random weights where Keras caches the ImageNet file (its legacy .h5 format)."""
    from keras_gan.inception import WEIGHTS_FILE, load_inception

    os.makedirs(os.path.join(keras_home, "models"))
    load_inception(None).save(os.path.join(keras_home, "models", WEIGHTS_FILE))


def test_every_block_of_the_tutorial_runs_in_order(tmp_path):
    text = open(TUTORIAL, encoding="utf-8").read()
    blocks = re.findall(r"```(bash|python)\n(.*?)```", text, re.S)
    assert [language for language, _ in blocks].count("bash") >= 4
    os.symlink(os.path.join(REPO, "experiments"), tmp_path / "experiments")
    made_up_images(str(tmp_path / "my_images"))
    random_inception_weights(str(tmp_path / "keras"))
    for old in SUBSTITUTIONS:
        assert old in text, f"the tutorial no longer says {old}: update the substitutions"
    environment = {**os.environ, "KERAS_HOME": str(tmp_path / "keras"),
                   "TF_CPP_MIN_LOG_LEVEL": "2"}
    for language, code in blocks:
        for old, new in SUBSTITUTIONS.items():
            code = code.replace(old, new)
        command = ["bash", "-ec", code] if language == "bash" else [sys.executable, "-c", code]
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                                timeout=600, env=environment)
        assert result.returncode == 0, f"{code}\n{result.stderr[-3000:]}"
    run = tmp_path / "runs" / "my_images"
    assert sorted(os.listdir(run / "samples")) == ["step_0000002.png", "step_0000004.png"]
    assert "inception_fid" in json.loads((run / "eval.json").read_text())
    for picture in ("sample.png", "grid.png"):
        assert (tmp_path / picture).stat().st_size > 0
