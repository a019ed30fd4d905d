"""`--mixed_precision=auto` picks bfloat16 only where the hardware multiplies it natively."""
import pytest

from keras_gan import precision

X86_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu sse sse2 avx avx2 fma
"""
X86_AMX = "flags\t\t: fpu avx2 avx512f avx512_bf16 amx_tile amx_bf16\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


@pytest.mark.parametrize("cpuinfo, expected", [
    (X86_AVX2, {"fpu", "sse", "sse2", "avx", "avx2", "fma"}),
    (X86_AMX, {"fpu", "avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}),
    (ARM_BF16, {"fp", "asimd", "sve", "bf16", "i8mm"}),
])
def test_cpu_flags_reads_x86_and_arm_cpuinfo(tmp_path, cpuinfo, expected):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert precision.cpu_flags(str(path)) == expected


def test_cpu_flags_are_empty_without_cpuinfo(tmp_path):
    assert precision.cpu_flags(str(tmp_path / "missing")) == frozenset()


@pytest.mark.parametrize("capabilities, flags, expected", [
    ([], {"avx2", "fma"}, "float32"),  # bfloat16 would be emulated
    ([], {"avx2", "avx512_bf16"}, "mixed_bfloat16"),
    ([], {"amx_bf16"}, "mixed_bfloat16"),
    ([], {"asimd", "bf16"}, "mixed_bfloat16"),
    ([], set(), "float32"),
    ([(8, 0)], {"avx2"}, "mixed_bfloat16"),  # the GPU computes, not the CPU
    ([(7, 5)], {"amx_bf16"}, "mixed_float16"),
    ([(9, 0), (7, 0)], set(), "mixed_float16"),  # the oldest GPU decides
    ([(6, 1)], {"amx_bf16"}, "float32"),
    ([(0, 0)], set(), "float32"),  # a GPU that reports no compute capability
])
def test_choose_policy(capabilities, flags, expected):
    assert precision.choose_policy(capabilities, frozenset(flags)) == expected


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_resolve_keeps_an_explicit_policy(policy):
    assert precision.resolve(policy) == policy


def test_resolve_auto_reads_this_machine(monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    assert precision.resolve("auto") == "mixed_bfloat16"  # no GPU in tests
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2"}))
    assert precision.resolve("auto") == "float32"
