"""The 2-D Gaussian-mixture benchmark for mode collapse (PacGAN's setup, Lin et al. 2018).

    python -m experiments.mixture --flagfile=experiments/configs/mixture_ring.cfg --run_dir=runs/x \
        [--seed=N] [--json]

The run directory is the usual one; sample grids are scatter plots over the true centres, and
`generator/` maps z to points. With --json the last stdout line is the final
{"modes", "high_quality", "reverse_kl", "mode_spread"} (`keras_gan.mixtures.mode_metrics`) on
--eval_samples samples from fixed noise.
"""
from __future__ import annotations

import json

from absl import flags

from experiments import common
from keras_gan import cli
from keras_gan.errors import exit_on_user_error

flags.DEFINE_enum("mixture", "ring", ["ring", "grid"],
                  "ring: 8 Gaussians on the unit circle, std 0.01; grid: 25 Gaussians at "
                  "{-4,-2,0,2,4}^2, std 0.05.")
flags.DEFINE_integer("num_points", 100_000, "Training points drawn from the mixture (--seed).")
flags.DEFINE_bool("json", False, "End stdout with one JSON line of the final mode metrics.")
FLAGS = flags.FLAGS
flags.adopt_module_key_flags(common)  # --help lists the shared training flags


@exit_on_user_error
def main(argv):
    if len(argv) > 1:
        common.fail_on_extra_arguments(argv)
    from keras_gan import data, mixtures, plotting

    mixture = mixtures.MIXTURES[FLAGS.mixture]
    points = mixture.sample(FLAGS.num_points, FLAGS.seed)
    scores = common.run(
        lambda split: data.LabelledImages(points), image_size=None,
        draw_samples=lambda path, samples: plotting.write_scatter(path, samples, mixture.centres),
        evaluate=lambda samples, labels: mixtures.mode_metrics(samples, mixture))
    if FLAGS.json:
        print(json.dumps(scores), flush=True)


if __name__ == "__main__":
    cli.run(main)
