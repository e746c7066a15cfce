"""The machine a benchmark ran on, and its fp32 peak, for the benchmarks to print."""
import os
import platform


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_ghz() -> float | None:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("cpu MHz"):
                return float(line.split(":", 1)[1]) / 1000
    except OSError:
        pass
    return None


def fp32_peak_gflops(cores: int | None = None) -> tuple[float | None, str]:
    """The cores' fp32 peak: 2 FMA units x 8 fp32 lanes (AVX2, 256 bit) x 2 flops per FMA
    = 32 flops per cycle per core, at the clock /proc/cpuinfo reports (AVX-512 machines
    with two 512-bit units would have twice that: said, not assumed)."""
    import torch

    cores = cores or torch.get_num_threads()
    ghz = cpu_ghz()
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if ghz is None or " fma" not in flags or " avx2" not in flags:
        return None, "peak unknown (no AVX2 FMA flags or clock in /proc/cpuinfo)"
    peak = cores * ghz * 32
    note = f"{cores} cores x {ghz:.2f} GHz x 32 fp32 flops/cycle (AVX2, 2 FMA units)"
    if " avx512f" in flags:
        note += "; AVX-512 present, its peak may be up to 2x this"
    return peak, note


def describe() -> str:
    import torch

    return (f"{cpu_model()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}")
