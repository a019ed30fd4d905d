"""Pictures people look at: sample grids and loss curves."""
from __future__ import annotations

import io
from typing import Dict, Sequence, Tuple

import numpy as np

from keras_gan import atomic


def image_grid(images: np.ndarray, value_range: Tuple[float, float], columns: int | None = None,
               padding: int = 2) -> np.ndarray:
    """Tiles (N, H, W, C) images in `value_range` into one uint8 (rows*H, cols*W, C) picture."""
    images = np.asarray(images, np.float32)
    count, height, width, channels = images.shape
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    low, high = value_range
    pixels = np.clip((images - low) / (high - low), 0.0, 1.0) * 255.0
    grid = np.zeros((rows * (height + padding) + padding, columns * (width + padding) + padding,
                     channels), np.uint8)
    for index, image in enumerate(pixels.round().astype(np.uint8)):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top:top + height, left:left + width] = image
    return grid


def write_png(path: str, picture: np.ndarray) -> None:
    """Atomically writes a uint8 (H, W, 1 or 3) picture as PNG."""
    import tensorflow as tf

    atomic.write_bytes(path, tf.io.encode_png(picture).numpy())


def write_grid(path: str, images: np.ndarray, value_range: Tuple[float, float],
               columns: int | None = None) -> None:
    write_png(path, image_grid(images, value_range, columns))


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Hanning-window moving average (the heuristic GAN's loss plot), same length as `values`."""
    if window < 3 or len(values) < window:
        return values
    weights = np.hanning(window)
    padded = np.pad(values, (window // 2, window - 1 - window // 2), mode="edge")
    return np.convolve(padded, weights / weights.sum(), mode="valid")


def write_curves(path: str, steps: np.ndarray, panels: Sequence[Dict[str, np.ndarray]],
                 titles: Sequence[str], smoothing: int = 0) -> None:
    """Atomically writes stacked line plots (one panel per dict of named series) as a PNG.

    Per-step GAN losses are noisy enough to hide their trend, so each series is drawn faintly
    and a Hanning-smoothed line over it; `smoothing` is the window in steps (0: 1% of the run,
    1: raw only).
    """
    plt = _pyplot()
    window = smoothing or len(steps) // 100
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 * len(panels)), sharex=True,
                                squeeze=False)
    for axis, series, title in zip(axes[:, 0], panels, titles):
        for name, values in series.items():
            values = np.asarray(values, float)
            raw, = axis.plot(steps, values, **(dict(lw=0.5, alpha=0.25) if window >= 3
                                               else dict(lw=1.2)))
            if window >= 3:
                axis.plot(steps, smooth(values, window), color=raw.get_color(), lw=1.2, label=name)
            else:
                raw.set_label(name)
        axis.set_title(title)
        axis.legend(loc="upper right")
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    axes[-1, 0].xaxis.set_major_formatter(_thousands())
    figure.tight_layout()
    _save_figure(path, figure)


def write_scatter(path: str, points: np.ndarray, centres: np.ndarray | None = None) -> None:
    """Atomically writes a scatter plot of 2-D samples over the true mixture centres as a PNG."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 5))
    if centres is not None:
        axis.scatter(centres[:, 0], centres[:, 1], s=60, c="red", marker="x", label="modes")
    points = np.asarray(points, float).reshape(-1, 2)
    axis.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, label="samples")
    if centres is not None:
        span = np.abs(centres).max() * 1.5
        axis.set_xlim(-span, span)
        axis.set_ylim(-span, span)
    axis.set_aspect("equal")
    axis.legend(loc="upper right")
    figure.tight_layout()
    _save_figure(path, figure)


def _pyplot():
    """matplotlib's pyplot on the Agg backend: the programs draw PNGs, never to a screen."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def _thousands():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value / 1000:g}k" if abs(value) >= 1000
                         else f"{value:g}")


def _save_figure(path: str, figure) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    _pyplot().close(figure)
    atomic.write_bytes(path, buffer.getvalue())


def write_evaluation_curves(path: str, history: Dict[str, np.ndarray],
                            names: Sequence[str]) -> None:
    """Atomically writes each named score of `history` (columns of eval_history.csv) against the
    training step and against training wall time, one row per score; `<name>` with a `_se`
    partner (Parzen's `parzen_ll`, `parzen_se`) gets its standard error as a band."""
    plt = _pyplot()
    names = [name for name in names if name in history]
    figure, axes = plt.subplots(len(names), 2, figsize=(10, 2.8 * len(names)), squeeze=False)
    minutes = history["train_seconds"] / 60.0
    for row, name in zip(axes, names):
        error = history.get(name.rsplit("_", 1)[0] + "_se")
        for axis, x, label in ((row[0], history["step"], "step"), (row[1], minutes,
                                                                   "training minutes")):
            axis.plot(x, history[name], marker="o", ms=3)
            if error is not None:
                axis.fill_between(x, history[name] - error, history[name] + error, alpha=0.3)
            axis.set_xlabel(label)
            axis.set_ylabel(name)
            axis.grid(alpha=0.3)
        row[0].xaxis.set_major_formatter(_thousands())  # 150,000 steps: "150k", not 150000
    figure.tight_layout()
    _save_figure(path, figure)
