"""Where a training call spends its time, by op type: TensorFlow's profiler records one call and
the kernels' own trace events are summed per type. `experiments.benchmark --profile` prints it
beside the step's speed, so what to remove from a step is read off a measurement."""
from __future__ import annotations

import collections
import dataclasses
import glob
import os
import tempfile
from typing import Callable, List

import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

# Executor threads run the graph's kernels; each kernel's trace event is named "node:OpType".
_KERNEL_THREADS = "tf_Compute"


@dataclasses.dataclass(frozen=True)
class OpTime:
    """All kernels of one op type in the recorded call: their summed time and how many ran."""

    op_type: str
    seconds: float
    count: int


def op_type(event_name: str) -> str | None:
    """The op type of a kernel's trace event ("while/body/conv/Conv2D:_MklConv2D" ->
    "_MklConv2D"), None for the runtime's own events (ExecutorState::Process, ...)."""
    node, separator, kind = event_name.rpartition(":")
    if not separator or not node or not kind or "::" in event_name or " " in kind:
        return None
    return kind


def kernel_times(space: xplane_pb2.XSpace) -> List[OpTime]:
    """Per op type, the time its kernels ran on the executor threads, longest first."""
    seconds, counts = collections.Counter(), collections.Counter()
    for plane in space.planes:
        if not plane.name.startswith("/host:"):
            continue
        for line in plane.lines:
            if not line.name.startswith(_KERNEL_THREADS):
                continue
            for event in line.events:
                kind = op_type(plane.event_metadata[event.metadata_id].name)
                if kind:
                    seconds[kind] += event.duration_ps * 1e-12
                    counts[kind] += 1
    return [OpTime(kind, seconds[kind], counts[kind]) for kind, _ in seconds.most_common()]


def profile(call: Callable[[], object]) -> List[OpTime]:
    """Runs `call` once under TensorFlow's profiler; its kernels' time by op type."""
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            call()
        finally:
            tf.profiler.experimental.stop()
        files = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        if not files:
            raise RuntimeError(f"TensorFlow's profiler wrote no trace under {logdir}")
        space = xplane_pb2.XSpace()
        with open(files[0], "rb") as stream:
            space.ParseFromString(stream.read())
    return kernel_times(space)


def table(times: List[OpTime], wall_seconds: float, steps: int, top: int = 20) -> str:
    """The op types as text: ms per step, share of all kernel time, kernels per step."""
    total = sum(t.seconds for t in times) or 1.0
    lines = [f"kernel time {total / steps * 1e3:.1f} ms per step on the executor threads "
             f"(wall {wall_seconds / steps * 1e3:.1f} ms per step), by op type:"]
    for t in times[:top]:
        lines.append(f"  {t.op_type:<32} {t.seconds / steps * 1e3:8.2f} ms  "
                     f"{t.seconds / total:6.1%}  {t.count / steps:6.1f} per step")
    rest = times[top:]
    if rest:
        lines.append(f"  {len(rest)} other types{'':<18} "
                     f"{sum(t.seconds for t in rest) / steps * 1e3:8.2f} ms  "
                     f"{sum(t.seconds for t in rest) / total:6.1%}")
    return "\n".join(lines)
