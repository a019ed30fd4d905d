"""The flags every experiment shares, made from `keras_gan.config`'s sections, and `run`, which
turns them into one `RunConfig` for `keras_gan.runner.train`.

`experiments.vanilla`, `experiments.dcgan` and `experiments.mixture` only choose the data shape,
pictures and scores; the training run is the library's, once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from absl import flags

from keras_gan import cli
from keras_gan.config import RunConfig, flag_fields, from_values
from keras_gan.errors import KerasGanError

if TYPE_CHECKING:
    import numpy as np

    from keras_gan.data import LabelledImages

SECTION_TITLES = {
    "data": "Data", "model": "Model", "training": "Training step",
    "g_optimizer": "G's optimiser", "d_optimizer": "D's optimiser", "schedule": "Schedule",
    "performance": "Devices and speed", "sampling": "Sampling", "outputs": "Outputs",
    "evaluation": "Evaluation"}
_DEFINE = {"str": flags.DEFINE_string, "Optional[str]": flags.DEFINE_string,
           "str | Callable": flags.DEFINE_string,
           "int": flags.DEFINE_integer, "float": flags.DEFINE_float,
           "Optional[float]": flags.DEFINE_float, "bool": flags.DEFINE_bool,
           "Tuple[str, ...]": flags.DEFINE_list, "float | Tuple[float, float]": flags.DEFINE_list}


def _define_flags() -> None:
    """One flag per config field, with the field's default, help and choices."""
    for section, name, field, default in flag_fields():
        help_text = field.metadata["help"].replace("{net}", section[0])
        if section in ("g_optimizer", "d_optimizer"):
            help_text = f"{section[0].upper()}: {help_text}"
        if field.type == "float | Tuple[float, float]":  # real_label: one value, or lo,hi
            default = [str(v) for v in (default if isinstance(default, tuple) else (default,))]
        elif isinstance(default, tuple):
            default = list(default)
        if field.metadata["choices"]:
            flags.DEFINE_enum(name, default, field.metadata["choices"], help_text)
        else:
            _DEFINE[field.type](name, default, help_text)


_define_flags()
# The flag's name before it became Keras's (older flagfiles and run directories use it).
flags.DEFINE_alias("steps_per_call", "steps_per_execution")
flags.DEFINE_list("plugins", [], "Python modules to import before the flags are checked, e.g. "
                  "ones that register objectives, penalties or architectures "
                  "(keras_gan.objectives.register ...).")
FLAGS = flags.FLAGS
cli.HELP_SECTIONS = [(title, [name for s, name, _, _ in flag_fields() if s == section])
                     for section, title in SECTION_TITLES.items()]
cli.HELP_SECTIONS.append(("Plug-ins", ["plugins"]))


def config_from_flags() -> RunConfig:
    """The run the flags describe."""
    return from_values({name: FLAGS[name].value for _, name, _, _ in flag_fields()})


def precision_policy() -> str:
    """The Keras dtype policy --mixed_precision names, `auto` resolved for this machine."""
    from keras_gan import runner

    return runner.precision_policy(config_from_flags())


def fail_on_extra_arguments(argv: Sequence[str]) -> None:
    raise KerasGanError(f"unexpected arguments {' '.join(argv[1:])}; flags look like --name=value")


def load_data(split: str, image_size: int | None):
    """The split of the data the flags name (--image_dir, --dataset, --data_dir ...)."""
    from keras_gan import runner

    return runner.load_data(config_from_flags(), split, image_size)


LoadData = Callable[[str], "LabelledImages"]


def prepare(load: LoadData, image_size: int | None, strategy=None):
    """`keras_gan.runner.prepare` of the flags' config: the compiled GAN and its data."""
    from keras_gan import runner

    return runner.prepare(config_from_flags(), load, image_size, strategy)


# Flags a resumed run may change: how long it runs, what it logs and how fast it goes, how its
# samples are refined; paths that may have moved. Every other flag changes the model, the data
# or the objective.
CHANGEABLE_ON_RESUME = (
    "epochs", "max_steps", "run_dir", "data_dir", "image_dir", "stream_from_disk", "resume",
    "strategy",
    "sample_every", "sample_count", "log_every", "checkpoint_every", "keep_checkpoints",
    "steps_per_execution", "jit_compile", "curve_smoothing", "grid_history", "g_learning_rate",
    "d_learning_rate", "g_ema_decay", "g_ema_warmup", "eval_every_epochs", "eval_metrics",
    "eval_samples", "eval_classifier", "eval_validation_split", "eval_d_accuracy", "json",
    "refine_steps", "refine_learning_rate", "refine_quantile",
    "loss_scale", "loss_scale_growth_interval", "plugins", "export_formats",
    "export_quantize")


def run(load: LoadData, image_size: int | None, *,
        draw_samples: Callable[[str, "np.ndarray"], None] | None = None,
        evaluate: Callable[["np.ndarray", "np.ndarray | None"], dict] | None = None) -> dict:
    """Trains the run the flags describe (`keras_gan.runner.train`) and records its flags in
    the run directory: RUN/flags.cfg reruns it, and a resume may change only
    CHANGEABLE_ON_RESUME (RUN/flag_changes.cfg says what each resume changed)."""
    from keras_gan import models, run_directory
    from keras_gan import runner

    config = config_from_flags()
    # Settings that cannot work fail first, then a resume that would change the model.
    runner.check(config)
    models.check_architecture(config.model.architecture, image_size)
    changes = []
    if config.outputs.run_dir and config.outputs.resume:
        # A total decay spreads over the run's length (--epochs, or --max_steps with
        # --epochs=0): another length would jump the learning rate.
        length = ("epochs", "max_steps") if not config.schedule.epochs else ("epochs",)
        changeable = tuple(name for name in CHANGEABLE_ON_RESUME
                           if not (name in length and runner.decays_over_run(config)))
        changes = run_directory.check_resumable_flags(config.outputs.run_dir, FLAGS, changeable)

    def record(step: int) -> None:
        run_directory.record_flags(config.outputs.run_dir, FLAGS)
        run_directory.record_flag_changes(config.outputs.run_dir, changes, step)

    return runner.train(config, load, image_size, draw_samples=draw_samples,
                        evaluate=evaluate, on_start=record)
