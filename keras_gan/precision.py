"""`--mixed_precision=auto`: the Keras dtype policy this machine runs fastest.

Mixed bfloat16 pays only where the hardware multiplies bfloat16 natively (AMX, AVX512-BF16,
Arm's BF16); elsewhere it is emulated and several times slower than float32 (the measurements
are in docs/devices.md, "Mixed precision"). GPUs multiply bfloat16 from Ampere (compute
capability 8.0) on and float16 from Volta (7.0) on.
"""
from __future__ import annotations

import tensorflow as tf

# /proc/cpuinfo names: x86's AMX and AVX-512 bfloat16 units; Arm's BF16 extension.
NATIVE_BFLOAT16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16", "bf16"})
# The oldest GPU compute capability that multiplies each reduced precision natively (Ampere,
# Volta), the faster first.
NATIVE_ON_GPUS_FROM = {"mixed_bfloat16": (8, 0), "mixed_float16": (7, 0)}


def cpu_flags(path: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags as Linux lists them; empty where that file does not exist."""
    try:
        with open(path) as stream:
            lines = stream.read().splitlines()
    except OSError:
        return frozenset()
    found = set()
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86, Arm
            found.update(value.split())
    return frozenset(found)


def choose_policy(gpu_capabilities: list[tuple[int, int]], flags: frozenset[str]) -> str:
    """The policy for these GPUs (their compute capabilities; the oldest decides), else this CPU."""
    if gpu_capabilities:
        oldest = min(gpu_capabilities)
        return next((policy for policy, needed in NATIVE_ON_GPUS_FROM.items()
                     if oldest >= needed), "float32")
    return "mixed_bfloat16" if flags & NATIVE_BFLOAT16_CPU_FLAGS else "float32"


def gpu_capabilities() -> list[tuple[int, int]]:
    """This machine's GPUs' compute capabilities."""
    return [tuple(tf.config.experimental.get_device_details(gpu).get(
        "compute_capability", (0, 0))) for gpu in tf.config.list_physical_devices("GPU")]


def resolve(policy: str) -> str:
    """`policy` itself, or for `auto` the policy this machine's devices run fastest."""
    if policy != "auto":
        return policy
    return choose_policy(gpu_capabilities(), cpu_flags())


def slow_precision(policy: str, gpu_capabilities: list[tuple[int, int]],
                   flags: frozenset[str]) -> str | None:
    """One line when `policy` is one these devices only emulate (several times slower than
    float32), naming the hardware it needs; None when they run it natively or it is float32."""
    if policy not in ("mixed_bfloat16", "mixed_float16"):
        return None
    if gpu_capabilities:
        oldest, needed = min(gpu_capabilities), NATIVE_ON_GPUS_FROM[policy]
        if oldest >= needed:
            return None
        return (f"mixed_precision={policy}: needs a GPU of compute capability "
                f"{needed[0]}.{needed[1]} or newer (this one: {oldest[0]}.{oldest[1]}), where "
                f"it is emulated and slower than float32; use float32 (or auto)")
    if policy == "mixed_bfloat16" and flags & NATIVE_BFLOAT16_CPU_FLAGS:
        return None
    needs = ("a CPU with AVX-512 BF16 or AMX (or Arm's BF16)" if policy == "mixed_bfloat16"
             else "a GPU (Volta or newer)")
    return (f"mixed_precision={policy}: needs {needs}; this CPU emulates it, several times "
            f"slower than float32: use float32 (or auto)")


def warn_if_slow(policy: str) -> str | None:
    """Logs `slow_precision` for this machine's devices, once per policy; returns the line."""
    line = slow_precision(policy, gpu_capabilities(), cpu_flags())
    if line and line not in _WARNED:
        from absl import logging

        _WARNED.add(line)
        logging.warning(line)
    return line


_WARNED: set = set()
