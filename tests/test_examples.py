"""The examples/ scripts, each on a small slice, and the CLI extended by a plugin module and run
from another directory: what a user does with the public API."""
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO

PLUGIN = '''
import keras_gan


@keras_gan.objectives.register("my_ls")
def my_ls(real_logits, fake_logits):
    return (real_logits - 1.0) ** 2 + fake_logits ** 2, (fake_logits - 1.0) ** 2
'''


def run(args, cwd, timeout=600):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=environment)


@pytest.mark.parametrize("script, args, outputs", [
    ("dcgan_mnist.py", ["--max_images=256", "--epochs=1"],
     ["samples/step_0000004.png", "history.csv", "generator/saved_model.pb"]),
    ("conditional_gan.py", ["--max_images=256", "--epochs=1"],
     ["samples/step_0000004.png", "sevens.npy"]),
    ("tabular_ring.py", ["--points=2000", "--epochs=2"], ["samples/step_0000008.png"]),
])
def test_example_runs_on_a_slice(script, args, outputs, mnist_dir, tmp_path):
    out = tmp_path / "out"
    result = run([os.path.join(REPO, "examples", script), *args, f"--data_dir={mnist_dir}",
                  f"--out={out}"] if script != "tabular_ring.py" else
                 [os.path.join(REPO, "examples", script), *args, f"--out={out}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for path in outputs:
        assert (out / path).exists(), path
    if script == "conditional_gan.py":
        assert np.load(out / "sevens.npy").shape == (16, 28, 28, 1)


def test_the_subclassing_example_trains_its_own_loss_and_resumes(mnist_dir, tmp_path):
    out = tmp_path / "out"
    command = [os.path.join(REPO, "examples", "feature_matching.py"), "--max_images=256",
               f"--data_dir={mnist_dir}", f"--out={out}"]
    for epochs in (1, 2):
        result = run([*command, f"--epochs={epochs}"], cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    rows = (out / "history.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert "d_gap" in header and len(rows) == 3  # one row per epoch: the second run resumed
    assert (out / "checkpoints" / "ckpt-8.index").exists()
    assert (out / "samples" / "step_0000008.png").exists() and (out / "gan.keras").exists()
    g_loss = [float(row.split(",")[header.index("g_loss")]) for row in rows[1:]]
    d_loss = [float(row.split(",")[header.index("d_loss")]) for row in rows[1:]]
    assert g_loss != d_loss and all(np.isfinite(g_loss))


def test_examples_use_the_public_api_only_and_stay_short():
    for name in os.listdir(os.path.join(REPO, "examples")):
        text = open(os.path.join(REPO, "examples", name)).read()
        assert len(text.splitlines()) <= 80, name
        imports = [line for line in text.splitlines() if "keras_gan." in line and "import" in line]
        assert all(line.startswith("from keras_gan.data import") for line in imports), imports
        assert "keras_gan.trainer" not in text and "_settings" not in text


def test_cli_with_a_plugin_objective_and_a_nested_flagfile_from_elsewhere(mnist_dir, tmp_path):
    (tmp_path / "my_objectives.py").write_text(PLUGIN)
    run_dir = tmp_path / "run"
    result = run(["-m", "experiments.vanilla",
                  f"--flagfile={os.path.join(REPO, 'experiments/configs/cgan_mnist.cfg')}",
                  "--plugins=my_objectives", "--objective=my_ls", f"--data_dir={mnist_dir}",
                  f"--run_dir={run_dir}", "--max_steps=4", "--batch_size=16",
                  "--steps_per_execution=2", "--log_every=2"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--objective=my_ls" in (run_dir / "flags.cfg").read_text()
    # cgan_mnist.cfg includes gan_pytorch.cfg by a name relative to itself, which the working
    # directory does not hold: had it been looked up there, the run would have failed.
    assert not (tmp_path / "gan_pytorch.cfg").exists()
    history = (run_dir / "history.csv").read_text().splitlines()
    assert history[0] == "step,d_loss,g_loss,d_real,d_fake,d_fake_after" and len(history) == 5
    assert "g_loss" in result.stderr  # the progress line


def test_an_unknown_plugin_or_flagfile_is_one_line(tmp_path):
    result = run(["-m", "experiments.vanilla", "--plugins=no_such_module"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: --plugins=no_such_module: cannot import no_such_module")
    (tmp_path / "outer.cfg").write_text("--flagfile=missing.cfg\n")
    result = run(["-m", "experiments.vanilla", f"--flagfile={tmp_path / 'outer.cfg'}"],
                 cwd=REPO)
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --flagfile=missing.cfg: no such file (named in {tmp_path / 'outer.cfg'})")


def test_api_comparison_times_every_way_and_scores_both(mnist_dir, tmp_path):
    import json

    common = ["-m", "experiments.api_comparison", f"--data_dir={mnist_dir}",
              "--steps_per_execution=2", "--batch_size=16"]
    speed = run([*common, "--mode=speed", "--steps=4", "--rounds=1"], cwd=REPO)
    assert speed.returncode == 0, speed.stderr[-3000:]
    summary = json.loads(speed.stdout.strip().splitlines()[-1])
    assert set(summary) >= {"api_images_per_sec", "api_arrays_images_per_sec",
                            "trainer_images_per_sec", "keras_io_images_per_sec",
                            "api_arrays_over_trainer", "api_over_keras_io"}
    quality = run([*common, "--mode=quality", "--epochs=1", "--samples=200",
                   f"--out={tmp_path}"], cwd=REPO)
    assert quality.returncode == 0, quality.stderr[-3000:]
    scores = json.loads(quality.stdout.strip().splitlines()[-1])
    assert set(scores) == {"api", "keras_io"} and all(s["fid"] > 0 for s in scores.values())
    assert (tmp_path / "keras_io" / "generator" / "saved_model.pb").exists()


def test_little_data_compares_augmentations_on_a_subset(mnist_dir, tmp_path):
    import json

    from keras_gan.callbacks import read_history

    result = run(["-m", "experiments.little_data", f"--data_dir={mnist_dir}",
                  "--train_images=64", "--held_out=32", "--steps=8", "--samples=200",
                  "--batch_size=16", "--augments=none,ada", "--score_every=4",
                  "--ada_target=0.3", f"--out={tmp_path}"], cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    assert [row["augment"] for row in rows] == ["none", "ada"]
    assert [row["run"] for row in rows] == ["none_seed0", "ada_target0.3_seed0"]
    assert all(row["fid"] > 0 and row["epochs"] == 2 for row in rows)
    scored = read_history(str(tmp_path / "ada_target0.3_seed0_scores.csv"))
    assert list(scored["step"]) == [4, 8] and all(scored["fid"] > 0)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert "val_d_real" in saved[0]["curves"] and "augment_p" in saved[1]["curves"]
    assert (tmp_path / "overfitting.png").stat().st_size > 10_000
    too_many = run(["-m", "experiments.little_data", f"--data_dir={mnist_dir}",
                    "--train_images=250", "--held_out=32", f"--out={tmp_path}"], cwd=REPO)
    assert too_many.returncode == 2 and "--train_images=250" in too_many.stderr


def test_little_data_fine_tunes_a_pretrained_model_against_one_from_scratch(mnist_dir, tmp_path):
    import json

    result = run(["-m", "experiments.little_data", f"--data_dir={mnist_dir}",
                  "--pretrain_digits=0,1,2,3,4", "--train_images=32", "--held_out=16",
                  "--pretrain_steps=2", "--steps=4", "--samples=100", "--batch_size=16",
                  "--augments=none", "--freeze_d_layers=0,2", f"--out={tmp_path}"], cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    assert [row["run"] for row in rows] == [
        "pretrained_none_seed0", "scratch_none_seed0", "fine_tuned_freeze0_none_seed0",
        "fine_tuned_freeze2_none_seed0"]
    assert all(0 <= row["target_share"] <= 1 for row in rows)
    assert (tmp_path / "pretrained_none_seed0.keras").exists()
    assert (tmp_path / "overfitting.png").exists()  # the runs on the target digits


OVERFITTING_FIGURE = '''
import json, sys
from keras_gan import plotting
from experiments import little_data

drawn = []
plotting.write_curves = lambda path, steps, panels, titles, smoothing: drawn.append(
    {"steps": steps.tolist(), "panels": [{k: [round(float(x), 6) for x in v] for k, v in p.items()}
                                         for p in panels], "titles": titles})
little_data.write_overfitting(sys.argv[1], json.loads(sys.argv[2]))
print(json.dumps(drawn))
'''


def test_overfitting_figure_draws_only_the_runs_validated_like_the_newest(tmp_path):
    """A fine-tuning comparison's pretraining run has other epochs, so other series lengths; runs
    validated at the same steps may still have other steps per epoch."""
    import json

    def result(name, epochs, per_epoch, every, ada=False):
        curves = {"d_real": [0.5 + e / 100 for e in range(epochs)],
                  "val_d_real": [0.5 - e / 100 for e in range(every - 1, epochs, every)]}
        if ada:
            curves["augment_p"] = [e / 100 for e in range(epochs)]
        return {"run": name, "steps_per_epoch": per_epoch, "curves": curves,
                "validation_steps": [per_epoch * e for e in range(every, epochs + 1, every)]}

    results = [result("pretrained", 40, 30, 2), result("scratch", 10, 3, 5),
               result("bigger_epochs", 6, 5, 3), result("fine_tuned", 10, 3, 5, ada=True)]
    drawn = run(["-c", OVERFITTING_FIGURE, str(tmp_path / "f.png"), json.dumps(results)], REPO)
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    (figure,) = json.loads(drawn.stdout.strip().splitlines()[-1])
    assert figure["steps"] == [15, 30]
    train, held_out, p = figure["panels"]
    assert train == {"scratch": [0.54, 0.59], "bigger_epochs": [0.52, 0.55],
                     "fine_tuned": [0.54, 0.59]}
    assert held_out == {"scratch": [0.46, 0.41], "bigger_epochs": [0.48, 0.45],
                        "fine_tuned": [0.46, 0.41]}
    assert p == {"fine_tuned": [0.04, 0.09]} and figure["titles"][2] == "ADA's p"
