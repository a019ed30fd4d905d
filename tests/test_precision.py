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


@pytest.mark.device
def test_resolve_auto_reads_this_machine(monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    assert precision.resolve("auto") == "mixed_bfloat16"  # no GPU in tests
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2"}))
    assert precision.resolve("auto") == "float32"


@pytest.mark.parametrize("policy, capabilities, flags, needs", [
    ("mixed_bfloat16", [], {"avx2", "fma"}, "AVX-512 BF16 or AMX"),
    ("mixed_float16", [], {"avx512_bf16"}, "a GPU"),
    ("mixed_bfloat16", [(7, 5)], set(), "compute capability 8.0"),
    ("mixed_float16", [(6, 1)], set(), "compute capability 7.0"),
])
def test_a_precision_the_hardware_only_emulates_gets_one_line_naming_what_it_needs(
        policy, capabilities, flags, needs):
    line = precision.slow_precision(policy, capabilities, frozenset(flags))
    assert needs in line and "use float32" in line and "\n" not in line


@pytest.mark.parametrize("policy, capabilities, flags", [
    ("float32", [], set()), ("mixed_bfloat16", [], {"avx512_bf16"}),
    ("mixed_bfloat16", [(8, 0)], set()), ("mixed_float16", [(7, 0)], set())])
def test_native_precisions_and_float32_warn_nothing(policy, capabilities, flags):
    assert precision.slow_precision(policy, capabilities, frozenset(flags)) is None


@pytest.mark.device
def test_compile_warns_once_under_an_emulated_precision(monkeypatch):
    import keras

    import keras_gan
    from tests.conftest import tiny_pair

    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2"}))
    monkeypatch.setattr(precision, "_WARNED", set())
    logged = []
    monkeypatch.setattr("absl.logging.warning", lambda line, *args: logged.append(line))
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        for _ in range(2):
            keras_gan.GAN(*tiny_pair()).compile()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert len(logged) == 1 and "mixed_precision=mixed_bfloat16: needs a CPU" in logged[0]
