"""The README runs as copied: every block in order, from a folder holding `experiments/` as the
repository root does. Two kinds of substitution only: sizes (epochs, steps, scored samples, the
validation split of 256 made-up digits), and MNIST from a folder of IDX files (`--data_dir`,
`data_dir=`), since tfds cannot download it here."""
import os
import re
import subprocess
import sys
import textwrap

from tests.conftest import REPO
from tests.test_tutorial import made_up_images

README = os.path.join(REPO, "README.md")


def blocks():
    """(language, code) of every fenced block the README asks a reader to run."""
    text = open(README, encoding="utf-8").read()
    # blocks inside the numbered list are indented with it
    return [(language, textwrap.dedent(code).strip() + "\n")
            for language, code in re.findall(r"```(bash|python)\n(.*?)```", text, re.S)]


def run(language, code, cwd):
    command = ["bash", "-ec", code] if language == "bash" else [sys.executable, "-c", code]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=environment)


def test_every_readme_block_runs_as_copied(mnist_dir, tmp_path):
    os.symlink(os.path.join(REPO, "experiments"), tmp_path / "experiments")
    made_up_images(str(tmp_path / "my_images"))
    substitutions = {
        "--run_dir=runs/cgan_mnist_conv": f"--run_dir=runs/cgan_mnist_conv --data_dir={mnist_dir}",
        "--max_steps=600": "--max_steps=2",
        'load_dataset("mnist", "train")': f'load_dataset("mnist", "train", data_dir={mnist_dir!r})',
        "epochs=5": "epochs=1",
        "--run_dir=runs/gan ": f"--run_dir=runs/gan --data_dir={mnist_dir} ",
        "--generator=runs/gan/generator": f"--generator=runs/gan/generator --data_dir={mnist_dir}"
                                          " --num_samples=64 --validation_split=train[:64]",
    }
    found = blocks()
    text = "".join(code for _, code in found)
    for old in substitutions:
        assert old in text, f"the README no longer says {old}: update the substitutions"
    assert found[0] == ("bash", 'pip install -e ".[test]"\n')  # the suite runs installed
    for language, code in found[1:]:
        for old, new in substitutions.items():
            code = code.replace(old, new)
        result = run(language, code, tmp_path)
        assert result.returncode == 0, f"{code}\n{result.stderr[-3000:]}"
    for run_dir in ("cgan_mnist_conv", "my_images", "gan", "quick"):
        assert (tmp_path / "runs" / run_dir / "generator" / "saved_model.pb").exists(), run_dir
    assert sorted(os.listdir(tmp_path / "runs" / "my_images" / "samples")) == [
        "step_0000002.png"]
    assert (tmp_path / "grid.png").stat().st_size > 0
    # the Python quick start: one epoch of 256 made-up digits is 4 steps, one CSV row
    assert os.listdir(tmp_path / "runs" / "quick" / "samples") == ["step_0000004.png"]
    assert len((tmp_path / "quick_history.csv").read_text().splitlines()) == 2
