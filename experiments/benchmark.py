"""Times the real trainer (the code path experiments.vanilla / experiments.dcgan use) in its
configured fast mode and, in the same run, in plain mode (the usual custom loop: one
tf.function call per step, no XLA, Keras's own optimisers), so the speed-up is a ratio measured
side by side.

    python -m experiments.benchmark --flagfile=experiments/configs/gan_pytorch.cfg \
        --data_dir=../shared/data/mnist [--steps=2000] [--json]
    python -m experiments.benchmark --flagfile=experiments/configs/dcgan_mnist32.cfg \
        --image_dir=FOLDER --channels=1 [--stream_from_disk] --modes=fast
    python -m experiments.benchmark --flagfile=experiments/configs/cgan_mnist_conv.cfg \
        --data_dir=../shared/data/mnist --modes=fast --floor --pytorch --rounds=3 [--profile]

With --rounds, every timed thing runs once per round, one after another, and the best round of
each is reported: the host's speed drifts, so only side-by-side figures compare.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time

from absl import flags
from absl.testing import flagsaver

from experiments import common, timing
from experiments import dcgan  # noqa: F401  (defines --image_size so its configs parse)
from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_integer("steps", 2000, "Timed training steps per mode and round (after a warm-up).")
flags.DEFINE_integer("warmup_steps", 200, "Untimed steps first (tracing, XLA compilation).")
flags.DEFINE_integer("rounds", 1, "Rounds: every mode, the floor and PyTorch are timed once per "
                     "round, one after another, and the best round of each is reported (the host "
                     "is shared and noisy).")
flags.DEFINE_bool("synthetic_data", False, "Random in-memory images instead of MNIST.")
flags.DEFINE_bool("json", False, "End with one JSON line: images_per_sec, plain_images_per_sec.")
flags.DEFINE_list("modes", ["fast", "plain"], "Which modes to time.")
flags.DEFINE_bool("floor", False, "Also time the fast step's own matrix products alone, one "
                  "after another (keras_gan.floor): the step's hardware floor.")
flags.DEFINE_bool("profile", False, "Also print where one fused call of the fast step spends "
                  "its time, by op type (keras_gan.op_profile).")
flags.DEFINE_bool("pytorch", False, "Also time the same models and step in PyTorch "
                  "(experiments.pytorch_reference, needs torch) in each round, in its settings "
                  "for this precision: plain and channels_last in float32, bfloat16 autocast "
                  "without and with channels_last in mixed bfloat16.")
FLAGS = flags.FLAGS
flags.adopt_module_key_flags(common)  # --help lists the shared training flags


def load_data(split: str):
    """The flags' data (an --image_dir with --stream_from_disk times the streaming path)."""
    from keras_gan import models

    size = models.ARCHITECTURES[FLAGS.architecture].image_size
    if FLAGS.synthetic_data:
        return timing.synthetic_images(size, 60000)
    return common.load_data(split, size)


# The plain mode is the usual custom loop: one tf.function call per step, Keras's optimisers.
MODES = {"fast": {},
         "plain": {"steps_per_execution": 1, "jit_compile": False, "fused_optimizers": False}}
# PyTorch's CPU settings compared with each of our precisions (experiments.pytorch_reference).
PYTORCH_SETTINGS = {"float32": ("plain", "channels_last"),
                    "mixed_bfloat16": ("bf16", "channels_last_bf16")}


def onednn_kernels() -> bool:
    """Whether TensorFlow runs its oneDNN CPU kernels (keras_gan turns them on on x86-64)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


class Mode:
    """One mode's trainer, built and warmed up once, then timed once per round."""

    def __init__(self, name: str):
        from keras_gan import models

        self.name, self.overrides = name, MODES[name]
        with flagsaver.flagsaver(**self.overrides):
            setup = common.prepare(load_data, models.ARCHITECTURES[FLAGS.architecture].image_size)
            self.description = (
                f"{FLAGS.architecture}, batch {FLAGS.batch_size}, steps_per_execution "
                f"{FLAGS.steps_per_execution}, xla {FLAGS.jit_compile}, fused optimisers "
                f"{FLAGS.fused_optimizers}, {common.precision_policy()}, oneDNN "
                f"{onednn_kernels()}")
        self.step = timing.TimedStep(setup.gan, setup.data, FLAGS.batch_size, FLAGS.seed,
                                     FLAGS.warmup_steps)

    def time(self) -> float:
        """Images per second of --steps steps."""
        return self.step.time(FLAGS.steps)

    def profile(self) -> str:
        """Where one fused call of this mode spends its time (keras_gan.op_profile)."""
        from keras_gan import op_profile

        step = self.step
        started = time.perf_counter()
        times = op_profile.profile(lambda: step.train_step(step.iterator, step.steps_per_call))
        return op_profile.table(times, time.perf_counter() - started, step.steps_per_call)


def pytorch_command(policy: str) -> list:
    """The reference's command line for the flags' model and step, or a KerasGanError naming
    the flag it cannot follow."""
    if policy not in PYTORCH_SETTINGS:
        raise KerasGanError(f"--pytorch: no PyTorch setting for {policy}; expected --mixed_"
                            f"precision={' or '.join(PYTORCH_SETTINGS)}")
    expected = {"order": "g_first", "d_style": "separate", "d_reduction": "mean",
                "objective": "bce", "g_loss": "non_saturating", "d_steps": 1, "noise": "normal",
                "g_optimizer": "adam", "d_optimizer": "adam", "penalty": "none"}
    if FLAGS.conditional == "concat":
        expected["conditional"] = "projection"
    for name, value in expected.items():
        if getattr(FLAGS, name) != value:
            raise KerasGanError(f"--pytorch: the PyTorch step has --{name}={value}; got "
                                f"--{name}={getattr(FLAGS, name)}")
    if FLAGS.g_beta_1 != FLAGS.d_beta_1 or FLAGS.g_beta_2 != FLAGS.d_beta_2:
        raise KerasGanError("--pytorch: the PyTorch step gives G and D the same Adam betas")
    if importlib.util.find_spec("torch") is None:
        raise KerasGanError("--pytorch: PyTorch is not installed; expected `pip install torch`")
    from experiments import pytorch_reference

    if FLAGS.architecture not in pytorch_reference.ARCHITECTURES:
        raise KerasGanError(f"--pytorch: no PyTorch model of --architecture="
                            f"{FLAGS.architecture}; expected one of "
                            f"{', '.join(pytorch_reference.ARCHITECTURES)}")
    return [sys.executable, "-m", "experiments.pytorch_reference",
            f"--architecture={FLAGS.architecture}", f"--batch_size={FLAGS.batch_size}",
            f"--z_dim={FLAGS.z_dim}", f"--num_classes={10 if FLAGS.conditional != 'none' else 0}",
            f"--g_learning_rate={FLAGS.g_learning_rate}",
            f"--d_learning_rate={FLAGS.d_learning_rate}", f"--beta_1={FLAGS.g_beta_1}",
            f"--beta_2={FLAGS.g_beta_2}", f"--g_ema_decay={FLAGS.g_ema_decay}",
            f"--settings={','.join(PYTORCH_SETTINGS[policy])}", f"--steps={FLAGS.steps}",
            f"--warmup_steps={min(FLAGS.warmup_steps, 50)}", f"--seed={FLAGS.seed}", "--json"]


def time_pytorch(command: list) -> dict:
    """One run of the reference: images/s by setting."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise KerasGanError(f"--pytorch: the reference failed:\n{result.stderr[-2000:]}")
    *lines, last = result.stdout.strip().splitlines()
    print("\n".join(lines), flush=True)
    return json.loads(last)


def measure(pytorch: list | None) -> tuple[dict, dict]:
    """Best images/s of each timed thing over --rounds interleaved rounds (`pytorch`: the
    reference's command, or None), and the summary's extra entries."""
    modes = [Mode(name) for name in FLAGS.modes]
    timed = {mode.name: mode.time for mode in modes}
    fast = next((mode for mode in modes if mode.name == "fast"), None)
    floor = timing.Floor(fast.step) if FLAGS.floor and fast else None
    if floor:
        timed["floor"] = lambda: floor.time(FLAGS.steps)
    if pytorch:
        timed["pytorch"] = lambda: time_pytorch(pytorch)
    best = {}
    for round_index in range(FLAGS.rounds):
        for name, time_it in timed.items():
            result = time_it()
            if name == "pytorch":
                for setting, value in result.items():
                    best[f"pytorch_{setting}"] = max(best.get(f"pytorch_{setting}", 0), value)
                continue
            best[name] = max(best.get(name, 0.0), result)
            print(f"round {round_index + 1}/{FLAGS.rounds} {name:>5}: {result:9.0f} images/s",
                  flush=True)
    for mode in modes:
        print(f"{mode.name:>5}: {best[mode.name]:9.0f} images/s best of {FLAGS.rounds}  "
              f"({source()}, {mode.description})", flush=True)
    if floor:
        print(f"floor: {best['floor']:9.0f} images/s  (the step's {len(floor.products)} matrix "
              f"products alone, {floor.flops * best['floor'] / FLAGS.batch_size / 1e9:.0f} "
              f"GFLOP/s)", flush=True)
    if FLAGS.profile and fast:
        print(fast.profile(), flush=True)
    return best, {"floor_products": len(floor.products)} if floor else {}


def source() -> str:
    if FLAGS.synthetic_data:
        return "synthetic"
    if FLAGS.image_dir:
        return FLAGS.image_dir + (" streamed" if FLAGS.stream_from_disk else " in memory")
    return FLAGS.dataset


@exit_on_user_error
def main(argv):
    if len(argv) > 1:
        common.fail_on_extra_arguments(argv)
    if FLAGS.steps < 1 or FLAGS.warmup_steps < 0 or FLAGS.rounds < 1:
        raise KerasGanError("--steps and --rounds must be positive and --warmup_steps not "
                            "negative")
    unknown = set(FLAGS.modes) - set(MODES)
    if unknown:
        raise KerasGanError(f"--modes: unknown {', '.join(sorted(unknown))}; expected fast, plain")
    # the PyTorch command's errors come before any training
    pytorch = pytorch_command(common.precision_policy()) if FLAGS.pytorch else None
    best, extra = measure(pytorch)
    summary = {"architecture": FLAGS.architecture, "batch_size": FLAGS.batch_size,
               "steps_per_execution": FLAGS.steps_per_execution, "jit_compile": FLAGS.jit_compile,
               "fused_optimizers": FLAGS.fused_optimizers,
               "mixed_precision": common.precision_policy(), "onednn": onednn_kernels(),
               "rounds": FLAGS.rounds, **extra}
    if "fast" in best:
        summary["images_per_sec"] = round(best["fast"], 1)
    if "floor" in best:
        summary["floor_images_per_sec"] = round(best["floor"], 1)
        summary["share_of_floor"] = round(best["fast"] / best["floor"], 3)
        print(f"fast step at {summary['share_of_floor']:.0%} of its matrix-product floor")
    if "plain" in best:
        summary["plain_images_per_sec"] = round(best["plain"], 1)
    if "fast" in best and "plain" in best:
        summary["speedup"] = round(best["fast"] / best["plain"], 3)
        print(f"speed-up: {summary['speedup']:.2f}x")
    pytorch = {key[len("pytorch_"):]: value for key, value in best.items()
               if key.startswith("pytorch_")}
    if pytorch:
        setting = max(pytorch, key=pytorch.get)
        summary["pytorch_images_per_sec"] = {k: round(v, 1) for k, v in pytorch.items()}
        summary["pytorch_best_setting"] = setting
        if "fast" in best:
            summary["vs_pytorch_best"] = round(best["fast"] / pytorch[setting], 3)
            print(f"fast step at {summary['vs_pytorch_best']:.2f}x PyTorch's fastest setting "
                  f"here ({setting}: {pytorch[setting]:.0f} images/s)")
    if FLAGS.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    cli.run(main)
