"""Machine facts: for GET /system CPU count, OS and per-GPU memory read live through NVML; the CPU's model; the
machine's cache directory."""

from __future__ import annotations

import os
import platform
from contextlib import contextmanager
from typing import Any, Iterator

import psutil
import pynvml

from pdxsrv.domain.errors import InvalidArgument

MB = 1024 * 1024


@contextmanager
def _nvml() -> Iterator[None]:
    """NVML initialised for the block and shut down after it (raises pynvml.NVMLError if unavailable)."""
    pynvml.nvmlInit()
    try:
        yield
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass  # the answer is already read; a failed shutdown changes nothing for the caller


def _text(value: str | bytes) -> str:
    """NVML strings are bytes in old bindings and str in new ones."""
    return value.decode() if isinstance(value, bytes) else value


def _memory(index: int) -> dict[str, int]:
    """One GPU's {free, used, total} in MB; zeros when the GPU cannot be queried (as the original did)."""
    try:
        info = pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(index))
    except pynvml.NVMLError:
        return {"free": 0, "used": 0, "total": 0}
    return {"free": int(info.free) // MB, "used": int(info.used) // MB, "total": int(info.total) // MB}


def _cpu_num() -> int:
    """Logical CPUs of this machine (at least 1)."""
    return os.cpu_count() or psutil.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's model name, with ", AVX-512" when it has those instructions ("?" when /proc/cpuinfo says nothing)."""
    model, flags = "?", ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "?":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = value
    except OSError:
        pass
    return f"{model}{', AVX-512' if 'avx512f' in flags.split() else ''}"


def cache_home() -> str:
    """The per-machine cache directory: $XDG_CACHE_HOME/pdxsrv, else ~/.cache/pdxsrv."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative value is invalid and ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pdxsrv")


def _utilization(index: int) -> int | None:
    """One GPU's use in percent over NVML's last sample period; None when it cannot be queried."""
    try:
        return int(pynvml.nvmlDeviceGetUtilizationRates(pynvml.nvmlDeviceGetHandleByIndex(index)).gpu)
    except pynvml.NVMLError:
        return None


def _load() -> dict[str, Any]:
    """CPU use in percent since the previous call (psutil's), and memory in MB: extensions of machine_info."""
    memory = psutil.virtual_memory()
    return {"cpu_percent": psutil.cpu_percent(interval=None), "mem_total_mb": int(memory.total // MB),
            "mem_available_mb": int(memory.available // MB)}


def machine_info() -> dict[str, Any]:
    """{message, cpu_num, gpu_num, sysstr, cpu_percent, mem_total_mb, mem_available_mb[, driver_version,
    gpu_free_mem, gpu_util]} for this machine, never raising."""
    info: dict[str, Any] = {"message": "", "cpu_num": _cpu_num(), "gpu_num": 0, "sysstr": platform.system(),
                            **_load()}
    try:
        with _nvml():
            count = pynvml.nvmlDeviceGetCount()
            if count:
                info["driver_version"] = _text(pynvml.nvmlSystemGetDriverVersion())
                info["gpu_free_mem"] = [_memory(i)["free"] for i in range(count)]
                info["gpu_util"] = [_utilization(i) for i in range(count)]
    except pynvml.NVMLError as exc:
        info["message"] = f"no GPU detected (NVML is not available: {exc})"
        return info
    info["gpu_num"] = count
    info["message"] = "GPU detected" if count else "no GPU detected"
    return info


def cpu_capacity() -> tuple[int, int]:
    """(CPU cores this process may use, available RAM in MB), read now."""
    return _cpu_num(), int(psutil.virtual_memory().available // (1024 * 1024))


def gpu_memory() -> list[dict[str, int]]:
    """Per GPU {free, used, total} in MB, read now; [] without GPUs or NVML."""
    try:
        with _nvml():
            return [_memory(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except pynvml.NVMLError:
        return []


def gpu_free_mb(gpu_list: list[int]) -> list[int]:
    """Free MB of each GPU in `gpu_list`, read now; InvalidArgument for an index this machine lacks."""
    if not gpu_list:
        return []
    reason = ""
    try:
        with _nvml():
            count = pynvml.nvmlDeviceGetCount()
            if all(_valid(g, count) for g in gpu_list):
                return [_memory(g)["free"] for g in gpu_list]
    except pynvml.NVMLError as exc:
        count, reason = 0, f" (NVML is not available: {exc})"
    bad = next(g for g in gpu_list if not _valid(g, count))
    hint = f"valid indices are 0..{count - 1}" if count else "use gpu_list [] to train on the CPU"
    raise InvalidArgument(f"GPU {bad!r} does not exist: this machine has {count} GPU(s){reason}; {hint}")


def _valid(index: object, count: int) -> bool:
    """Whether `index` is an int GPU index below `count`."""
    return isinstance(index, int) and not isinstance(index, bool) and 0 <= index < count
