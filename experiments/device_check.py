"""Checks every accelerator path in one command, for a GPU machine borrowed for minutes:

    python -m experiments.device_check --out=DIR [--data_dir=MNIST_IDX_FOLDER]

Five parts, each recorded in DIR/device_check.json as it ends (docs/devices.md reads every
field): the environment, the `device` tests, a throughput grid against each step's floor, a
short mixed-float16 run of the main job, and replicas under MirroredStrategy. A part that fails
records its error and the check goes on; the exit status is 0 only when no part failed.
Without a GPU the same code runs on two logical CPU devices, with the sizes CPU_SIZES names.
"""
from __future__ import annotations

import os
import sys
import time
import traceback

from absl import flags

from experiments import common, dcgan  # noqa: F401  (dcgan defines --image_size for its configs)
from keras_gan import atomic, cli
from keras_gan.errors import KerasGanError, exit_on_user_error

# In the order they run: the throughput grid last, so a time budget cuts only its last cells.
PARTS = ("environment", "tests", "short_run", "replicas", "throughput")
flags.DEFINE_string("out", None, "Folder for device_check.json, the table and the run's files.")
flags.DEFINE_list("parts", list(PARTS), "Which parts to run.")
flags.DEFINE_list("configs", ["gan_pytorch", "dcgan_mnist32", "cgan_mnist_conv"],
                  "Configs the throughput grid times (names in experiments/configs or paths).")
flags.DEFINE_string("main_config", "cgan_mnist_conv", "The config of the short run and the "
                    "replicas' check.")
flags.DEFINE_list("batch_sizes", ["64", "512"], "Global batch sizes of the throughput grid.")
flags.DEFINE_list("precisions", ["float32", "mixed_float16", "mixed_bfloat16"],
                  "Precisions of the throughput grid.")
flags.DEFINE_list("xla", ["false", "true"], "jit_compile settings of the throughput grid.")
flags.DEFINE_integer("timed_steps", 100, "Timed steps per throughput cell (and its floor).")
flags.DEFINE_integer("warmup", 20, "Untimed steps first in each cell (tracing, XLA).")
flags.DEFINE_integer("run_steps", 300, "Steps of the short mixed_float16 run.")
flags.DEFINE_integer("replica_steps", 100, "Steps before the replicas' weights are compared.")
flags.DEFINE_list("tests", [], "pytest node ids to run instead of every `device` test.")
flags.DEFINE_integer("test_workers", 2, "pytest-xdist workers for the tests (0: none).")
flags.DEFINE_integer("tests_timeout", 900, "Seconds before the tests' pytest is stopped.")
flags.DEFINE_integer("max_seconds", 240, "Throughput cells that would start after this many "
                     "seconds of the check are recorded as not run.")
FLAGS = flags.FLAGS

# Without a GPU: float16 is emulated on CPUs, and GPU-sized batches take minutes there.
CPU_SIZES = {"batch_sizes": ["64"], "precisions": ["float32", "mixed_bfloat16"],
             "timed_steps": 20, "warmup": 10, "max_seconds": 360}
SEED = 0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the checkout
RECORD_EVERY = 10  # steps between the short run's records (one fused call)


def config_path(name: str) -> str:
    if os.path.exists(name):
        return name
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs", f"{name}.cfg")
    if not os.path.exists(path):
        raise KerasGanError(f"config {name}: neither a file nor one of experiments/configs")
    return path


def config_for(name: str, **overrides):
    """The RunConfig of config `name` with `overrides` (flag name: value)."""
    from absl.testing import flagsaver

    with flagsaver.flagsaver():
        FLAGS([sys.argv[0], f"--flagfile={config_path(name)}",
               *(f"--{flag}={value}" for flag, value in overrides.items())])
        return common.config_from_flags()


def image_size(config) -> int:
    from keras_gan import models

    return models.ARCHITECTURES[config.model.architecture].image_size


def synthetic_data(size: int):
    """Random labelled images: timing needs no real data."""
    from experiments import timing

    return timing.synthetic_images(size, 4096, SEED)


# ----- the parts ---------------------------------------------------------------------------

def environment(report: dict) -> dict:
    """Devices, versions, GPU details and the CPU features the precisions depend on."""
    import platform

    import keras
    import numpy as np
    import tensorflow as tf

    import keras_gan
    from keras_gan import precision

    build, cpu = tf.sysconfig.get_build_info(), precision.cpu_flags()
    gpus = tf.config.list_physical_devices("GPU")
    details = [tf.config.experimental.get_device_details(gpu) for gpu in gpus]
    return {
        "accelerator": report["accelerator"],
        "physical_devices": [d.name for d in tf.config.list_physical_devices()],
        "logical_devices": [d.name for d in tf.config.list_logical_devices()],
        "gpus": [{"name": d.get("device_name", ""),
                  "compute_capability": ".".join(map(str, d.get("compute_capability", ())))}
                 for d in details],
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "keras_gan": keras_gan.__version__, "numpy": np.__version__,
        "python": platform.python_version(), "platform": platform.platform(),
        "cuda": build.get("cuda_version", ""), "cudnn": build.get("cudnn_version", ""),
        "cpu_features": sorted(cpu & (precision.NATIVE_BFLOAT16_CPU_FLAGS | {"avx2", "avx512f"})),
        "auto_precision": precision.resolve("auto"),
    }


def tests(report: dict) -> dict:
    """The `device` tests (or --tests) in a pytest subprocess, one result per test."""
    import subprocess
    import xml.etree.ElementTree as ElementTree

    if not os.path.isdir(os.path.join(ROOT, "tests")):
        raise KerasGanError(f"no tests/ beside {ROOT}/experiments: run from a checkout")
    junit = os.path.join(FLAGS.out, "device_tests.xml")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--junitxml={junit}", *(FLAGS.tests or ["-m", "device and not slow"])]
    if FLAGS.test_workers:
        command += ["-n", str(FLAGS.test_workers)]
    # Each pytest worker would otherwise take all of a GPU's memory.
    environment = {**os.environ, "TF_FORCE_GPU_ALLOW_GROWTH": "true",
                   "TF_CPP_MIN_LOG_LEVEL": "2"}
    if os.path.exists(junit):
        os.remove(junit)  # an earlier check's results are not this one's
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                              env=environment, timeout=FLAGS.tests_timeout)
    if not os.path.exists(junit):
        raise KerasGanError(f"pytest wrote no results (exit {finished.returncode}):\n"
                            f"{finished.stdout[-1500:]}{finished.stderr[-1500:]}")
    results, failures = {}, {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        test = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        problem = next((child for child in case if child.tag in ("failure", "error")), None)
        skipped = any(child.tag == "skipped" for child in case)
        results[test] = "failed" if problem is not None else "skipped" if skipped else "passed"
        if problem is not None:
            failures[test] = (problem.get("message") or problem.text or "")[:500]
    counts = {state: sum(1 for r in results.values() if r == state)
              for state in ("passed", "failed", "skipped")}
    part = {**counts, "command": " ".join(command[1:]), "results": results,
            "failures": failures}
    if counts["failed"]:
        part["error"] = f"{counts['failed']} of {len(results)} tests failed"
    elif finished.returncode:  # e.g. no test collected, or a collection error
        part["error"] = (f"pytest exited {finished.returncode}: "
                         f"{(finished.stdout + finished.stderr).strip()[-600:]}")
    return part


def throughput(report: dict) -> dict:
    """Images/s of each config x batch x precision x XLA cell, and of the cell's floor."""
    from experiments import timing
    from keras_gan import runner

    cells = []
    for name in FLAGS.configs:
        for batch in map(int, FLAGS.batch_sizes):
            for policy in FLAGS.precisions:
                for xla in FLAGS.xla:
                    cell = {"config": name, "batch_size": batch, "precision": policy,
                            "jit_compile": xla == "true"}
                    if time.perf_counter() - report["started"] > FLAGS.max_seconds:
                        cell["not_run"] = f"over --max_seconds={FLAGS.max_seconds}"
                        cells.append(cell)
                        continue
                    try:
                        config = config_for(name, batch_size=batch, mixed_precision=policy,
                                            jit_compile=xla, strategy="one_device")
                        data = synthetic_data(image_size(config))
                        setup = runner.prepare(config, lambda split: data, image_size(config))
                        step = timing.TimedStep(setup.gan, data, batch, SEED, FLAGS.warmup)
                        cell["images_per_sec"] = round(step.time(FLAGS.timed_steps), 1)
                        floor = timing.Floor(step, FLAGS.warmup)
                        cell["floor_images_per_sec"] = round(floor.time(FLAGS.timed_steps), 1)
                        cell["share_of_floor"] = round(
                            cell["images_per_sec"] / cell["floor_images_per_sec"], 3)
                    except Exception as error:  # noqa: BLE001  (a failed cell is data)
                        cell["error"] = describe(error)
                    cells.append(cell)
                    print(cell_line(cell), flush=True)
    failed = [cell for cell in cells if "error" in cell]
    part = {"cells": cells, "cells_not_run": sum("not_run" in cell for cell in cells)}
    if failed:
        part["error"] = f"{len(failed)} of {len(cells)} cells failed"
    return part


def short_run(report: dict) -> dict:
    """--run_steps of the main job in mixed_float16: finite losses, the loss scales, the
    export against a float32 export of the same weights, and classifier scores."""
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_gan import evaluation, plotting, portable, runner
    from keras_gan.classifier import load_classifier

    config = config_for(FLAGS.main_config, mixed_precision="mixed_float16",
                        strategy="one_device", steps_per_execution=RECORD_EVERY,
                        data_dir=FLAGS.data_dir, epochs=0, max_steps=FLAGS.run_steps)
    size = image_size(config)
    try:
        train = runner.load_data(config, "train", size)
        test, source = runner.load_data(config, "test", size), "mnist"
    except KerasGanError as error:
        train, test = synthetic_data(size), None
        source = f"synthetic (no MNIST: {error}; pass --data_dir)"
    setup = runner.prepare(config, lambda split: train, size)
    gan = setup.gan
    history, losses = [], []

    class Record(keras.callbacks.Callback):
        """Every step's losses; the loss scales after each fused call and at the end."""

        def on_train_batch_end(self, batch, logs=None):
            losses.append((float(logs["g_loss"]), float(logs["d_loss"])))
            if len(losses) % RECORD_EVERY == 0:
                self.record()

        def on_train_end(self, logs=None):
            if not history or history[-1]["step"] != len(losses):
                self.record()

        def record(self):
            history.append({"step": len(losses), "g_loss": losses[-1][0],
                            "d_loss": losses[-1][1],
                            "g_loss_scale": float(gan.g_loss_scale.scale.numpy()),
                            "d_loss_scale": float(gan.d_loss_scale.scale.numpy())})

    started = time.perf_counter()
    gan.fit(train, batch_size=config.schedule.batch_size, verbose=0, seed=SEED,
            epochs=runner.run_epochs(config, setup.steps_per_epoch),
            max_steps=config.schedule.max_steps, callbacks=[Record()])
    seconds = time.perf_counter() - started
    folder = os.path.join(FLAGS.out, "short_run")
    float16_path, float32_path = (os.path.join(folder, "generator_float16"),
                                  os.path.join(folder, "generator_float32"))
    gan.export(float16_path)
    gan.export(float32_path, generator=portable.float32_copy(gan.sampling_generator))
    z = tf.random.stateless_normal([100, config.model.z_dim], [SEED, 1])
    labels = tf.constant(np.repeat(np.arange(10), 10), tf.int32)
    arguments = (z, labels) if gan.conditional else (z,)
    # Each loaded model is kept while it runs: its variables go with it.
    loaded = [tf.saved_model.load(path) for path in (float16_path, float32_path)]
    images = [model.serving_default(*arguments)["images"].numpy() for model in loaded]
    difference = np.abs(images[0] - images[1])
    plotting.write_grid(os.path.join(folder, "samples_float16.png"), images[0],
                        setup.value_range, columns=10)
    # FID and the asked digit's accuracy need MNIST's test images; IS and modes only samples.
    names = ["is", "modes"] + (["fid", "conditional"] if test is not None else [])
    reference = evaluation.MnistReference(
        None, evaluation.to_mnist_pixels(test.images, (0, 255)) if test is not None else None,
        load_classifier(), test.labels if test is not None else None)
    asked = np.arange(1000) % 10
    samples = gan.sample(1000, labels=asked if gan.conditional else None, seed=SEED)
    scores = reference.evaluate(evaluation.to_mnist_pixels(samples, setup.value_range), names,
                                asked if gan.conditional else None)
    scores.pop("intra_fid_per_class", None)
    scales = {net: [h[f"{net}_loss_scale"] for h in history] for net in ("g", "d")}
    part = {
        "config": FLAGS.main_config, "data": source, "steps": int(gan.step.numpy()),
        "policy": "mixed_float16", "seconds": round(seconds, 1),
        "images_per_sec": round(int(gan.step.numpy()) * config.schedule.batch_size / seconds, 1),
        "losses_finite": bool(np.all(np.isfinite(losses))),
        "final_losses": {"g_loss": losses[-1][0], "d_loss": losses[-1][1]},
        "loss_scale": {net: {"first": values[0], "last": values[-1], "min": min(values),
                             "max": max(values)} for net, values in scales.items() if values},
        "history": history,
        "export_vs_float32": {"max_abs_difference": float(difference.max()),
                              "mean_abs_difference": float(difference.mean()),
                              "value_range": list(setup.value_range)},
        "classifier_scores": {k: v for k, v in scores.items()
                              if isinstance(v, (int, float))},
        "samples": os.path.join(folder, "samples_float16.png"),
    }
    if not part["losses_finite"]:
        part["error"] = "a loss was not finite"
    return part


def replicas(report: dict) -> dict:
    """The main job under MirroredStrategy: are the replicas' weights identical after
    --replica_steps, and images/s against one device."""
    import numpy as np
    import tensorflow as tf

    from experiments import timing
    from keras_gan import runner

    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) == 1:
        return {"not_run": "one GPU: MirroredStrategy needs two or more"}
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    batch = max(map(int, FLAGS.batch_sizes))
    config = config_for(FLAGS.main_config, batch_size=batch)
    data = synthetic_data(image_size(config))
    strategy = tf.distribute.MirroredStrategy(devices)
    results = {}
    for name, choice in (("mirrored", strategy),
                         ("one_device", tf.distribute.OneDeviceStrategy(devices[0]))):
        setup = runner.prepare(config, lambda split: data, image_size(config), choice)
        step = timing.TimedStep(setup.gan, data, batch, SEED, 1)
        results[name] = (setup.gan, step.time(FLAGS.replica_steps - 1))
    gan = results["mirrored"][0]
    variables = [*gan.generator.weights, *gan.discriminator.weights,
                 *gan.g_optimizer.variables, *gan.d_optimizer.variables]
    largest = 0.0
    for variable in variables:
        values = [np.asarray(v) for v in strategy.experimental_local_results(variable)]
        largest = max([largest] + [float(np.max(np.abs(v - values[0]))) for v in values[1:]])
    mirrored, single = results["mirrored"][1], results["one_device"][1]
    part = {"devices": devices, "replicas": strategy.num_replicas_in_sync,
            "global_batch_size": batch, "steps": int(gan.step.numpy()),
            "variables_compared": len(variables), "weights_identical": largest == 0.0,
            "max_difference": largest, "images_per_sec": round(mirrored, 1),
            "one_device_images_per_sec": round(single, 1),
            "speedup": round(mirrored / single, 3)}
    if largest:
        part["error"] = f"replicas differ by up to {largest:g}"
    return part


# ----- running and reporting ----------------------------------------------------------------

def describe(error: BaseException) -> str:
    """The error in a line or two, and where it came from: the innermost line of this
    project's code, and the innermost line of all."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if f.filename.startswith(ROOT)]
    places = [f"{os.path.relpath(f.filename, ROOT)}:{f.lineno}" for f in ours[-1:]]
    places += [f"{f.filename}:{f.lineno}" for f in frames[-1:] if f not in ours[-1:]]
    where = ", ".join(places)
    return f"{type(error).__name__}: {str(error)[:800]}" + (f" (at {where})" if where else "")


def cell_line(cell: dict) -> str:
    head = (f"{cell['config']:<16} {cell['batch_size']:>5} {cell['precision']:<15} "
            f"{'xla' if cell['jit_compile'] else '-':<4}")
    if "error" in cell:
        return f"{head} failed: {cell['error'][:70]}"
    if "not_run" in cell:
        return f"{head} not run: {cell['not_run']}"
    return (f"{head} {cell['images_per_sec']:>9.0f} {cell['floor_images_per_sec']:>9.0f} "
            f"{cell['share_of_floor']:>6.0%}")


def summary(name: str, part: dict) -> str:
    if part["status"] == "not_run":
        return part["not_run"]
    if "error" in part and name != "tests":
        return part["error"][:90]
    if name == "environment":
        gpus = ", ".join(f"{g['name']} (cc {g['compute_capability']})" for g in part["gpus"])
        return (f"TF {part['tensorflow']}, CUDA {part['cuda'] or '-'}, cuDNN "
                f"{part['cudnn'] or '-'}; {gpus or 'no GPU'}; auto precision "
                f"{part['auto_precision']}")
    if name == "tests":
        counts = f"{part['passed']} passed, {part['failed']} failed, {part['skipped']} skipped"
        return counts if part["failed"] or "error" not in part else part["error"][:90]
    if name == "throughput":
        return (f"{len(part['cells']) - part['cells_not_run']} of {len(part['cells'])} cells "
                f"run, table below")
    if name == "short_run":
        scale = part["loss_scale"].get("d", {})
        return (f"{part['steps']} steps, losses finite, D's loss scale {scale.get('first', 0):g}"
                f" -> {scale.get('last', 0):g}, export vs float32 max "
                f"{part['export_vs_float32']['max_abs_difference']:.3g}, "
                + ", ".join(f"{k} {v:.3g}" for k, v in part["classifier_scores"].items()
                            if k in ("fid", "label_accuracy", "inception_score")))
    return (f"{part['replicas']} replicas, weights identical {part['weights_identical']}, "
            f"{part['speedup']:.2f}x one device")


def table(report: dict) -> str:
    lines = [f"device check on {report['accelerator']}: "
             f"{'passed' if report['passed'] else 'FAILED'} in {report['seconds']:.0f} s",
             f"{'part':<12} {'status':<8} {'seconds':>7}  summary"]
    for name, part in report["parts"].items():
        lines.append(f"{name:<12} {part['status']:<8} {part.get('seconds', 0):>7.0f}  "
                     f"{summary(name, part) if part['status'] != 'running' else ''}")
    cells = report["parts"].get("throughput", {}).get("cells", [])
    if cells:
        lines += ["", f"{'config':<16} {'batch':>5} {'precision':<15} {'xla':<4} "
                      f"{'images/s':>9} {'floor':>9} {'share':>6}"]
        lines += [cell_line(cell) for cell in cells]
    return "\n".join(lines)


def write(report: dict) -> None:
    import json

    kept = {key: value for key, value in report.items() if key != "started"}
    atomic.write_text(os.path.join(FLAGS.out, "device_check.json"),
                      json.dumps(kept, indent=1) + "\n")


def use_logical_cpus() -> str:
    """Before TensorFlow starts: GPUs that take memory as needed, or two logical CPU devices
    when there is no GPU, so the replicas' part runs MirroredStrategy; what the check runs
    on."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:  # the tests' pytest runs beside this process and needs memory too
        tf.config.experimental.set_memory_growth(gpu, True)
    if gpus:
        return f"{len(gpus)} GPU{'s' if len(gpus) > 1 else ''}"
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    for name, value in CPU_SIZES.items():
        if not FLAGS[name].present:
            FLAGS[name].value = value
    return "CPU: no GPU, two logical CPU devices, sizes reduced (" + ", ".join(
        f"{name}={FLAGS[name].value}" for name in CPU_SIZES if not FLAGS[name].present) + ")"


RUNNERS = {"environment": environment, "tests": tests, "throughput": throughput,
           "short_run": short_run, "replicas": replicas}


@exit_on_user_error
def main(argv):
    if len(argv) > 1:
        common.fail_on_extra_arguments(argv)
    if not FLAGS.out:
        raise KerasGanError("--out is required: the folder device_check.json is written to")
    unknown = set(FLAGS.parts) - set(PARTS)
    if unknown:
        raise KerasGanError(f"--parts: unknown {', '.join(sorted(unknown))}; expected some of "
                            f"{', '.join(PARTS)}")
    for name in ("timed_steps", "run_steps", "replica_steps"):
        if FLAGS[name].value < 1:
            raise KerasGanError(f"--{name}={FLAGS[name].value}: expected a positive integer")
    os.makedirs(FLAGS.out, exist_ok=True)
    import tensorflow as tf

    # Every cell builds its own step on purpose: TensorFlow's retracing warning is noise here.
    tf.get_logger().addFilter(lambda record: "retracing" not in record.getMessage())
    import datetime

    report = {"accelerator": use_logical_cpus(), "passed": False, "seconds": 0.0,
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "parts": {}}
    started = report["started"] = time.perf_counter()
    for name in [part for part in PARTS if part in FLAGS.parts]:
        part_started = time.perf_counter()
        report["parts"][name] = {"status": "running"}  # what a crash of this part leaves
        write(report)
        try:
            part = RUNNERS[name](report)
            status = "not_run" if "not_run" in part else "failed" if "error" in part else "passed"
        except Exception as error:  # noqa: BLE001  (a failed part is data; the next one runs)
            part, status = {"error": describe(error)}, "failed"
        report["parts"][name] = {"status": status,
                                 "seconds": round(time.perf_counter() - part_started, 1), **part}
        report["passed"] = all(p["status"] != "failed" for p in report["parts"].values())
        report["seconds"] = round(time.perf_counter() - started, 1)
        write(report)
        print(f"{name}: {status}", flush=True)
    text = table(report)
    atomic.write_text(os.path.join(FLAGS.out, "device_check.txt"), text + "\n")
    print(text)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    cli.run(main)
