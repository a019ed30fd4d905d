"""One typed configuration of a training run: nested dataclasses, one per section.

The experiment programs build a `RunConfig` from their flags (`experiments.common`) and hand it to
`keras_gan.runner.train`, which never reads flags. Each field is a flag of the same name (an
optimiser's fields are prefixed `g_` or `d_`), and `--help` lists the flags section by section.
The `training` section is `GAN.compile`'s own `TrainingOptions`, so the CLI and the Python API
share one declaration of every training option.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Iterator, Mapping, Optional, Tuple

from keras_gan.options import TrainingOptions
from keras_gan.options import option as _field


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """The training data."""

    dataset: str = _field(
        'mnist',
        'Training data when --image_dir is empty: a tfds image dataset (mnist, fashion_mnist,'
        ' cifar10, celeb_a, ...); mnist and fashion_mnist may come from IDX files in '
        '--data_dir.')
    data_dir: str = _field(
        '',
        'Folder of the four IDX .gz files of --dataset (mnist or fashion_mnist); empty: tfds.')
    image_dir: str = _field(
        '',
        'A folder of JPEG/PNG images to train on instead (class subfolders give labels).')
    channels: int = _field(
        3,
        'Channels of --image_dir images (1 or 3).')
    resize: str = _field(
        'crop',
        'How images of another aspect ratio than --image_size are fitted: scaled to cover it '
        'and the centre cropped, or scaled to fit inside it and padded with black.',
        choices=('crop', 'pad'))
    max_images: int = _field(
        0,
        'Use at most this many training images; 0: all.')
    stream_from_disk: bool = _field(
        False,
        'Decode --image_dir files on every step (parallel, prefetched) instead of holding '
        'them in memory: for folders too large for memory.')
    train_split: str = _field(
        'train',
        'Training split, tfds syntax (e.g. train[:50000]).')
    value_range: str = _field(
        '-1,1',
        'Range the pixels are scaled to.',
        choices=('-1,1', '0,1'))


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """G and D."""

    architecture: str = _field(
        'pytorch_mlp',
        'A registered G/D pair (keras_gan.models.register), each built for one data shape; '
        'built in: paper_maxout, pytorch_mlp, blog_mlp, blog_mlp_bn, heuristic_mlp, '
        'infogan28, infogan28_half_d, dcgan32, dcgan64, pacgan_mlp, pacgan_mlp_nobn.')
    z_dim: int = _field(
        100,
        'Size of the noise vector z.')
    noise: str = _field(
        'normal',
        'Prior of z: N(0, 1), or uniform on [-sqrt 3, sqrt 3].',
        choices=('normal', 'uniform'))
    conditional: str = _field(
        'none',
        "Class-conditional G(z, y) and D(x, y) on labelled data: y joined to z and to D's "
        "input (Mirza & Osindero), or D's logit plus <embed(y), phi(x)> (Miyato & Koyama).",
        choices=('none', 'concat', 'projection'))
    spectral_norm: bool = _field(
        False,
        "Spectrally normalise D's Dense, Conv2D and Maxout layers (Miyato et al. 2018); it "
        "replaces D's BatchNormalization.")
    init_from: str = _field(
        '',
        "Start G, D and G's average from this run directory's newest checkpoint (or a saved "
        '.keras GAN) instead of random weights: fine-tuning. Optimisers and step start fresh; '
        'a resumed run continues from its own checkpoint.')


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """One network's optimiser (flags g_... for G, d_... for D)."""

    optimizer: str = _field(
        'adam',
        'The optimiser: adam or sgd.',
        choices=('adam', 'sgd'))
    learning_rate: float = _field(
        0.0002,
        'The learning rate.')
    beta_1: float = _field(
        0.5,
        "Adam's beta_1.")
    beta_2: float = _field(
        0.999,
        "Adam's beta_2.")
    momentum: float = _field(
        0.0,
        "SGD's momentum (at the start).")
    final_momentum: Optional[float] = _field(
        None,
        'The SGD momentum ramps up to this, linearly (default: no ramp).')
    learning_rate_decay: float = _field(
        1.0,
        'The learning rate is divided by this every step (1: none).')
    learning_rate_total_decay: float = _field(
        1.0,
        "The learning rate is divided by this over the run's --epochs, by the same factor "
        'every step (1: none); the alternative to --{net}_learning_rate_decay that keeps its '
        'meaning when --epochs, --batch_size or --d_steps change.')
    learning_rate_min: float = _field(
        0.0,
        'Floor of the decayed learning rate.')


@dataclasses.dataclass(frozen=True)
class ScheduleConfig:
    """How long training runs and in what order it sees the data."""

    epochs: int = _field(
        1,
        'Passes over the training split (each D step takes one batch); 0: as many as '
        '--max_steps takes.')
    max_steps: int = _field(
        0,
        'Stop after this many training steps; 0: no limit.')
    batch_size: int = _field(
        64,
        "Global batch size, split across the strategy's replicas.")
    seed: int = _field(
        0,
        'Seed of the data order, the noise and the initial weights.')
    momentum_ramp_epochs: int = _field(
        250,
        'Epochs over which SGD momentum ramps up.')


@dataclasses.dataclass(frozen=True)
class PerformanceConfig:
    """Devices, precision and speed."""

    strategy: str = _field(
        'auto',
        'auto: all GPUs if several, else one GPU, else the CPU; multi_worker reads TF_CONFIG.',
        choices=('auto', 'mirrored', 'one_device', 'multi_worker'))
    fused_optimizers: bool = _field(
        True,
        "Update weights with TensorFlow's fused Adam / momentum kernels (Keras's formulas, "
        "~3x faster updates); off: Keras's own optimisers.")
    mixed_precision: str = _field(
        'float32',
        'Keras dtype policy; mixed_float16 (GPUs) scales the losses dynamically; auto: '
        'mixed_bfloat16 where the CPU or GPU multiplies bfloat16 natively, mixed_float16 on '
        'older GPUs, else float32 (keras_gan.precision).',
        choices=('auto', 'float32', 'mixed_float16', 'mixed_bfloat16'))


@dataclasses.dataclass(frozen=True)
class SamplingConfig:
    """What grids, evaluation and the export sample from."""

    refine_steps: int = _field(
        0,
        'Refine every sample grids, evaluation and generator/ draw by this many Adam steps of'
        " D-guided transport in noise space (DOT, Tanaka 2019; keras_gan.refinement); 0: G's "
        'samples as they are. generator_raw/ is G.')
    refine_learning_rate: float = _field(
        0.01,
        "Adam's step size in noise space for --refine_steps.")
    refine_quantile: float = _field(
        0.95,
        "--refine_steps's k, D(G(z))'s Lipschitz constant in z, is this quantile of its slope"
        " between random noise pairs (1: Tanaka's maximum).")
    sample_every: int = _field(
        400,
        'Write a sample grid every this many steps.')
    sample_count: int = _field(
        25,
        'Images in each sample grid (fixed noise).')
    grid_history: bool = _field(
        False,
        'Also write a strip of fixed-noise samples per epoch.')


@dataclasses.dataclass(frozen=True)
class OutputConfig:
    """The run directory and what goes into it."""

    run_dir: Optional[str] = _field(
        None,
        'Where the run writes flags, CSV, grids, checkpoints, model.')
    log_every: int = _field(
        100,
        'Progress line and TensorBoard scalars every N steps.')
    checkpoint_every: int = _field(
        1000,
        'Checkpoint every this many steps (and at the end).')
    keep_checkpoints: int = _field(
        3,
        'How many recent checkpoints to keep.')
    resume: bool = _field(
        True,
        'Continue from RUN/checkpoints when it holds a checkpoint.')
    export_formats: Tuple[str, ...] = _field(
        ('saved_model',),
        'The generator\'s formats at the end: saved_model (RUN/generator/, always written), '
        'tflite (RUN/generator.tflite, LiteRT), onnx (RUN/generator.onnx); each portable one '
        'with RUN/generator.info.json. `python -m keras_gan.convert` converts a finished run.')
    export_quantize: Tuple[str, ...] = _field(
        ('none',),
        'Quantizations of each portable format: none, float16, dynamic_int8 (int8 weights), '
        'int8 (full integer); RUN/generator.QUANTIZATION.tflite beside the float32 one.')
    curve_smoothing: int = _field(
        0,
        'Hanning window (steps) of the smoothed lines in the loss-curve PNG; 0: 1% of the '
        'run; 1: raw values only.')


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """Scores during and after training."""

    eval_every_epochs: int = _field(
        0,
        'Score samples every N epochs during training (0: never); see --eval_metrics.')
    eval_metrics: Tuple[str, ...] = _field(
        ('parzen',),
        'In-training metrics: parzen, fid, is, modes.')
    eval_samples: int = _field(
        2000,
        'Samples per in-training evaluation (cheap, not 10k).')
    eval_classifier: str = _field(
        '',
        'MNIST classifier for in-training fid / is / modes; empty: the one packaged with '
        'keras_gan.')
    eval_validation_split: str = _field(
        'train[50000:51000]',
        "Images that choose the Parzen sigma (the paper's 1,000 validation images).")
    eval_d_accuracy: bool = _field(
        False,
        "After training, D's accuracy on the test images and as many fakes.")


# The CLI's defaults where they differ from a section type's own: GAN.compile's
# steps_per_execution is Keras's 1, the programs fuse 50 steps per call.
CLI_DEFAULTS = {"training": {"steps_per_execution": 50}}


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything a training run is made of, section by section."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingOptions = dataclasses.field(
        default_factory=lambda: TrainingOptions(**CLI_DEFAULTS["training"]))
    g_optimizer: OptimizerConfig = OptimizerConfig()
    d_optimizer: OptimizerConfig = OptimizerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    performance: PerformanceConfig = PerformanceConfig()
    sampling: SamplingConfig = SamplingConfig()
    outputs: OutputConfig = OutputConfig()
    evaluation: EvaluationConfig = EvaluationConfig()


# The prefix of each section's flag names (the optimisers share their fields).
PREFIXES = {"g_optimizer": "g_", "d_optimizer": "d_"}


def _section_type(section: dataclasses.Field) -> type:
    return section.type if isinstance(section.type, type) else globals()[section.type]


def flag_fields() -> Iterator[Tuple[str, str, dataclasses.Field, object]]:
    """(section, flag name, field, default) for every field of every section, in order; the
    default is the CLI's, which may differ from the section type's own (CLI_DEFAULTS). Builds no
    section, so defining the flags loads no TensorFlow."""
    for section in dataclasses.fields(RunConfig):
        overrides = CLI_DEFAULTS.get(section.name, {})
        for field in dataclasses.fields(_section_type(section)):
            yield (section.name, PREFIXES.get(section.name, "") + field.name, field,
                   overrides.get(field.name, field.default))


def from_values(values: Mapping[str, object]) -> RunConfig:
    """A RunConfig from flag values by flag name (missing ones keep their CLI defaults)."""
    sections: Dict[str, dict] = {}
    for section, flag, field, _ in flag_fields():
        if flag in values:
            value = values[flag]
            sections.setdefault(section, {})[field.name] = (
                tuple(value) if isinstance(value, list) else value)
    return RunConfig(**{
        section.name: _section_type(section)(**{**CLI_DEFAULTS.get(section.name, {}),
                                                **sections.get(section.name, {})})
        for section in dataclasses.fields(RunConfig)})
