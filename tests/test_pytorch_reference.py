"""experiments.pytorch_reference, the PyTorch side of `experiments.benchmark --pytorch`: its
models are keras_gan's and its step trains (skipped without torch, which keras_gan does not
need)."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the PyTorch reference needs torch")
from experiments import pytorch_reference  # noqa: E402  (only with torch)
from keras_gan import models  # noqa: E402


@pytest.mark.parametrize("architecture, conditional, image_size", [
    ("dcgan32", "none", 32), ("infogan28_half_d", "projection", 28),
    ("pytorch_mlp", "none", 28)])
def test_the_pytorch_models_have_keras_gans_shapes_and_parameter_counts(
        architecture, conditional, image_size):
    num_classes = 10 if conditional != "none" else 0
    g, d = models.build_gan(architecture, (image_size, image_size, 1), 100,
                            conditional=conditional, num_classes=num_classes)[:2]
    torch_g, torch_d, shape = pytorch_reference.build(architecture, 100, num_classes)
    assert shape == (1, image_size, image_size)

    def count(model):
        return sum(p.numel() for p in model.parameters())

    assert count(torch_g) == sum(int(np.prod(w.shape)) for w in g.trainable_weights)
    assert count(torch_d) == sum(int(np.prod(w.shape)) for w in d.trainable_weights)
    z, labels = torch.randn(4, 100), torch.randint(0, max(num_classes, 1), (4,))
    fake = torch_g(z, labels) if num_classes else torch_g(z)
    assert tuple(fake.shape) == (4, *shape)
    logits = torch_d(fake, labels) if num_classes else torch_d(fake)
    assert tuple(logits.shape) == (4, 1)


def test_the_pytorch_step_trains_in_every_setting(capsys):
    pytorch_reference.main(["--architecture=dcgan32", "--batch_size=8", "--steps=2",
                            "--warmup_steps=1", "--json"])
    results = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(results) == set(pytorch_reference.SETTINGS)
    assert all(value > 0 for value in results.values())


def test_the_pytorch_step_moves_both_networks_and_the_average():
    args = pytorch_reference.parse(["--architecture=infogan28_half_d", "--num_classes=10",
                                    "--batch_size=8", "--g_ema_decay=0.999"])
    step = pytorch_reference.Step(args, "plain")
    g_before = [p.detach().clone() for p in step.g.parameters()]
    d_before = [p.detach().clone() for p in step.d.parameters()]
    step()
    step()
    assert all(not torch.equal(a, b) for a, b in zip(g_before, step.g.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(d_before, step.d.parameters())
               if b.grad is not None)
    # after two updates at warm-up decays 1/10 and 2/11 the average lies between start and now
    assert not torch.equal(step.ema[0], g_before[0])
    assert not torch.equal(step.ema[0], next(step.g.parameters()))
