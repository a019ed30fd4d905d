"""experiments.device_check: its short form runs every part here and writes every field; a
failing part is recorded and the check goes on."""
import json
import os

import pytest

from tests.conftest import run_module

TINY = ["--configs=gan_pytorch", "--batch_sizes=16", "--precisions=float32", "--xla=false",
        "--timed_steps=2", "--warmup=1", "--run_steps=4", "--replica_steps=2",
        "--tests=tests/test_precision.py::test_resolve_keeps_an_explicit_policy",
        "--test_workers=0"]


def report(out) -> dict:
    with open(os.path.join(out, "device_check.json")) as stream:
        return json.load(stream)


def test_the_short_form_runs_every_part_and_writes_every_field(mnist_dir, tmp_path):
    out = str(tmp_path / "check")
    result = run_module("experiments.device_check", f"--out={out}", f"--data_dir={mnist_dir}",
                        *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    checked = report(out)
    assert checked["passed"] and checked["accelerator"].startswith("CPU: no GPU, two logical")
    parts = checked["parts"]
    assert list(parts) == ["environment", "tests", "short_run", "replicas", "throughput"]
    assert all(part["status"] == "passed" for part in parts.values()), parts
    environment = parts["environment"]
    assert {"tensorflow", "keras", "cuda", "cudnn", "gpus", "logical_devices",
            "auto_precision"} <= set(environment)
    assert len([d for d in environment["logical_devices"] if "CPU" in d]) == 2
    assert parts["tests"]["results"] == {
        f"tests/test_precision.py::test_resolve_keeps_an_explicit_policy[{policy}]": "passed"
        for policy in ("float32", "mixed_bfloat16", "mixed_float16")}
    [cell] = parts["throughput"]["cells"]
    assert parts["throughput"]["cells_not_run"] == 0
    assert cell["images_per_sec"] > 0 and cell["floor_images_per_sec"] > 0
    assert cell["share_of_floor"] == pytest.approx(
        cell["images_per_sec"] / cell["floor_images_per_sec"], abs=1e-3)
    run = parts["short_run"]
    assert run["steps"] == 4 and run["losses_finite"] and len(run["history"]) >= 1
    assert run["loss_scale"]["d"]["first"] == 2.0 ** 15
    # the float16 export computes the float32 one's function to float16's precision
    assert 0 < run["export_vs_float32"]["max_abs_difference"] < 0.05
    assert {"fid", "inception_score", "label_accuracy"} <= set(run["classifier_scores"])
    assert os.path.exists(run["samples"])
    replicas = parts["replicas"]
    assert replicas["replicas"] == 2 and replicas["weights_identical"]
    assert replicas["steps"] == 2 and replicas["speedup"] > 0
    with open(os.path.join(out, "device_check.txt")) as stream:
        assert "replicas" in stream.read()


def test_a_failing_part_is_recorded_and_the_next_one_runs(tmp_path):
    out = str(tmp_path / "check")
    result = run_module("experiments.device_check", f"--out={out}", "--parts=tests,throughput",
                        "--tests=tests/test_no_such_file.py", "--configs=no_such_config",
                        "--test_workers=0")
    assert result.returncode == 1
    parts = report(out)["parts"]
    assert not report(out)["passed"]
    assert parts["tests"]["status"] == "failed" and "pytest exited 4" in parts["tests"]["error"]
    assert parts["throughput"]["status"] == "failed"
    cells = parts["throughput"]["cells"]
    assert cells and all("config no_such_config: neither a file nor one of experiments/configs"
                         in cell["error"] for cell in cells)


@pytest.mark.parametrize("arguments, message", [
    ([], "--out is required"),
    (["--out=x", "--parts=tests,bogus"], "--parts: unknown bogus"),
    (["--out=x", "--run_steps=0"], "--run_steps=0: expected a positive integer"),
])
def test_bad_flags_fail_in_one_line(arguments, message):
    result = run_module("experiments.device_check", *arguments)
    assert result.returncode == 2 and message in result.stderr


def test_the_device_marker_covers_each_device_path():
    result = run_module("pytest", "-m", "device", "--collect-only", "-q", "-p",
                        "no:cacheprovider")
    files = {line.split("::")[0] for line in result.stdout.splitlines() if "::" in line}
    assert {"tests/test_step.py", "tests/test_optimizers.py", "tests/test_precision.py",
            "tests/test_export.py", "tests/test_portable.py"} <= files
