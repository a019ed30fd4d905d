"""The PyTorch side of `experiments.benchmark --pytorch`: the same G, D and training step as
keras_gan's configs, written the way a PyTorch user writes them, timed in each of PyTorch's CPU
settings (plain, channels_last memory format, bfloat16 autocast, and both).

    python -m experiments.pytorch_reference --architecture=dcgan32 --batch_size=64 \
        --settings=plain,channels_last [--json]

Needs PyTorch (`pip install torch`), which keras_gan itself does not. It imports no TensorFlow,
so it runs beside a TensorFlow process without sharing its threads. The step is keras_gan's
`order=g_first, d_style=separate`: G's update through D on fresh noise, then D's update on a real
batch and that fake batch detached (the mean of the two cross-entropies), Adam for both, and an
average of G's weights where the config keeps one. The real images are random and in memory, so
only the step is timed.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch
from torch import nn

SETTINGS = ("plain", "channels_last", "bf16", "channels_last_bf16")
ARCHITECTURES = ("pytorch_mlp", "dcgan32", "infogan28_half_d")


class ConditionalGenerator(nn.Module):
    """G(z, y) = base(z ⊕ onehot(y))."""

    def __init__(self, base: nn.Module, num_classes: int):
        super().__init__()
        self.base, self.num_classes = base, num_classes

    def forward(self, z, labels):
        one_hot = nn.functional.one_hot(labels, self.num_classes).to(z.dtype)
        return self.base(torch.cat([z, one_hot], 1))


class ProjectionDiscriminator(nn.Module):
    """d(x, y) = w phi(x) + b + <embed(y), phi(x)> (Miyato & Koyama 2018)."""

    def __init__(self, features: nn.Module, width: int, num_classes: int):
        super().__init__()
        self.features, self.logit = features, nn.Linear(width, 1)
        self.embedding = nn.Embedding(num_classes, width)

    def forward(self, x, labels):
        phi = self.features(x)
        return self.logit(phi) + (self.embedding(labels) * phi).sum(1, keepdim=True)


def build(architecture: str, z_dim: int, num_classes: int):
    """(G, D, image shape) of keras_gan's architecture of that name; `num_classes` > 0 makes the
    pair class-conditional the way the main job's config does (y joined to z, projection D)."""
    if architecture == "pytorch_mlp":  # PyTorch-GAN gan.py
        def block(n_in, n_out, normalise=True):
            return ([nn.Linear(n_in, n_out)] + ([nn.BatchNorm1d(n_out, 0.8)] if normalise else [])
                    + [nn.LeakyReLU(0.2)])
        generator = nn.Sequential(*block(z_dim, 128, False), *block(128, 256), *block(256, 512),
                                  *block(512, 1024), nn.Linear(1024, 784), nn.Tanh(),
                                  nn.Unflatten(1, (1, 28, 28)))
        discriminator = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2),
                                      nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
        return generator, discriminator, (1, 28, 28)
    if architecture == "dcgan32":  # PyTorch-GAN dcgan.py
        generator = nn.Sequential(
            nn.Linear(z_dim, 128 * 8 * 8), nn.Unflatten(1, (128, 8, 8)), nn.BatchNorm2d(128),
            nn.Upsample(scale_factor=2), nn.Conv2d(128, 128, 3, 1, 1),
            nn.BatchNorm2d(128, 0.8), nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2), nn.Conv2d(128, 64, 3, 1, 1),
            nn.BatchNorm2d(64, 0.8), nn.LeakyReLU(0.2),
            nn.Conv2d(64, 1, 3, 1, 1), nn.Tanh())
        layers, channels = [], 1
        for index, filters in enumerate((16, 32, 64, 128)):
            layers += [nn.Conv2d(channels, filters, 3, 2, 1), nn.LeakyReLU(0.2),
                       nn.Dropout2d(0.25)] + ([nn.BatchNorm2d(filters, 0.8)] if index else [])
            channels = filters
        discriminator = nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * 2 * 2, 1))
        return generator, discriminator, (1, 32, 32)
    # infogan28_half_d: InfoGAN's MNIST G, a D of half InfoGAN's width
    extra = num_classes
    generator = nn.Sequential(
        nn.Linear(z_dim + extra, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
        nn.Linear(1024, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (128, 7, 7)),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
    features = nn.Sequential(
        nn.Conv2d(1, 32, 4, 2, 1), nn.LeakyReLU(0.1),
        nn.Conv2d(32, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(0.1), nn.Flatten(),
        nn.Linear(64 * 7 * 7, 512), nn.BatchNorm1d(512), nn.LeakyReLU(0.1))
    if not num_classes:
        return generator, nn.Sequential(features, nn.Linear(512, 1)), (1, 28, 28)
    return (ConditionalGenerator(generator, num_classes),
            ProjectionDiscriminator(features, 512, num_classes), (1, 28, 28))


class Step:
    """One training step of `setting`, on models built fresh from one seed."""

    def __init__(self, args, setting: str):
        torch.manual_seed(args.seed)
        self.args = args
        self.conditional = args.num_classes > 0
        self.g, self.d, shape = build(args.architecture, args.z_dim, args.num_classes)
        self.memory_format = (torch.channels_last if setting.startswith("channels_last")
                              else torch.contiguous_format)
        self.g.to(memory_format=self.memory_format)
        self.d.to(memory_format=self.memory_format)
        self.autocast = setting.endswith("bf16")
        betas = (args.beta_1, args.beta_2)
        self.g_optimizer = torch.optim.Adam(self.g.parameters(), args.g_learning_rate, betas,
                                            fused=True)
        self.d_optimizer = torch.optim.Adam(self.d.parameters(), args.d_learning_rate, betas,
                                            fused=True)
        self.ema = None
        if args.g_ema_decay:
            self.ema = [p.detach().clone() for p in self.g.parameters()]
        self.updates = 0
        generator = torch.Generator().manual_seed(args.seed)
        self.real = [(torch.rand((args.batch_size, *shape), generator=generator) * 2 - 1
                      ).contiguous(memory_format=self.memory_format) for _ in range(16)]
        self.labels = [torch.randint(0, max(args.num_classes, 1), (args.batch_size,),
                                     generator=generator) for _ in range(16)]

    def _call(self, model, x, labels):
        return model(x, labels) if self.conditional else model(x)

    def __call__(self) -> None:
        args, index = self.args, self.updates % len(self.real)
        real, labels = self.real[index], self.labels[index]
        bce = nn.functional.binary_cross_entropy_with_logits
        z = torch.randn(args.batch_size, args.z_dim)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast):
            fake = self._call(self.g, z, labels)
            fake_logits = self._call(self.d, fake, labels).float()
            g_loss = bce(fake_logits, torch.ones_like(fake_logits))
        self.g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_optimizer.step()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast):
            real_logits = self._call(self.d, real, labels).float()
            fake_logits = self._call(self.d, fake.detach(), labels).float()
            d_loss = (bce(real_logits, torch.ones_like(real_logits))
                      + bce(fake_logits, torch.zeros_like(fake_logits))) / 2
        self.d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_optimizer.step()
        if self.ema is not None:
            decay = min(args.g_ema_decay, (1 + self.updates) / (10 + self.updates))
            with torch.no_grad():
                torch._foreach_lerp_(self.ema, list(self.g.parameters()), 1 - decay)
        self.updates += 1


def time_setting(args, setting: str) -> float:
    """Images per second of `args.steps` steps after `args.warmup_steps` untimed ones."""
    step = Step(args, setting)
    for _ in range(args.warmup_steps):
        step()
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    return args.steps * args.batch_size / (time.perf_counter() - started)


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--architecture", choices=ARCHITECTURES, required=True)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--z_dim", type=int, default=100)
    parser.add_argument("--num_classes", type=int, default=0,
                        help="> 0: class-conditional (y joined to z, projection D)")
    parser.add_argument("--g_learning_rate", type=float, default=2e-4)
    parser.add_argument("--d_learning_rate", type=float, default=2e-4)
    parser.add_argument("--beta_1", type=float, default=0.5)
    parser.add_argument("--beta_2", type=float, default=0.999)
    parser.add_argument("--g_ema_decay", type=float, default=0.0)
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help=f"comma-separated, of {', '.join(SETTINGS)}")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup_steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true",
                        help="end with one JSON line: images/s by setting")
    args = parser.parse_args(argv)
    args.settings = args.settings.split(",")
    unknown = set(args.settings) - set(SETTINGS)
    if unknown:
        parser.error(f"--settings: unknown {', '.join(sorted(unknown))}; expected some of "
                     f"{', '.join(SETTINGS)}")
    if args.num_classes and args.architecture != "infogan28_half_d":
        parser.error("--num_classes: only infogan28_half_d has a conditional form here")
    return args


def main(argv=None) -> None:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    results = {}
    for setting in args.settings:
        results[setting] = time_setting(args, setting)
        print(f"pytorch {setting:>18}: {results[setting]:9.0f} images/s  ({args.architecture}, "
              f"batch {args.batch_size}, {args.threads} threads, torch {torch.__version__})",
              flush=True)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
