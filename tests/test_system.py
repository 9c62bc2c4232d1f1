"""Machine facts: real on any machine, and clean answers when there is no GPU or no NVML."""

from __future__ import annotations

import platform
from types import SimpleNamespace

import pynvml
import pytest

from pdxsrv import system
from pdxsrv.domain.errors import InvalidArgument


@pytest.fixture
def no_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    """NVML as on a machine without the NVIDIA driver."""

    def init() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", init)


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A fake NVML with two GPUs (6000 and 3000 MB free); returns the init/shutdown call log."""
    calls: list[str] = []
    mib = 1024 * 1024
    memory = [SimpleNamespace(free=6000 * mib, used=2000 * mib, total=8000 * mib),
              SimpleNamespace(free=3000 * mib + 5, used=5000 * mib, total=8000 * mib)]
    monkeypatch.setattr(pynvml, "nvmlInit", lambda: calls.append("init"))
    monkeypatch.setattr(pynvml, "nvmlShutdown", lambda: calls.append("shutdown"))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", lambda: 2)
    monkeypatch.setattr(pynvml, "nvmlSystemGetDriverVersion", lambda: "550.54.15")
    monkeypatch.setattr(pynvml, "nvmlDeviceGetHandleByIndex", lambda i: i)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetMemoryInfo", lambda handle: memory[handle])
    return calls


def test_machine_info_on_this_machine_has_the_keys_with_the_right_types() -> None:
    info = system.machine_info()
    assert isinstance(info["message"], str) and info["message"]
    assert isinstance(info["cpu_num"], int) and info["cpu_num"] >= 1
    assert isinstance(info["gpu_num"], int) and info["sysstr"] == platform.system()
    assert 0 <= info["cpu_percent"] <= 100 and 0 < info["mem_available_mb"] <= info["mem_total_mb"]
    if info["gpu_num"]:
        assert isinstance(info["driver_version"], str) and len(info["gpu_free_mem"]) == info["gpu_num"]
    else:
        assert "gpu_free_mem" not in info and info["message"].startswith("no GPU detected")


def test_no_nvml_gives_a_clean_cpu_only_answer(no_nvml: None) -> None:
    info = system.machine_info()
    assert info["gpu_num"] == 0 and "driver_version" not in info
    assert info["message"] == "no GPU detected (NVML is not available: NVML Shared Library Not Found)"
    assert system.gpu_memory() == [] and system.gpu_free_mb([]) == []


def test_a_gpu_that_does_not_exist_is_refused_by_index(no_nvml: None) -> None:
    with pytest.raises(InvalidArgument) as info:
        system.gpu_free_mb([0])
    assert "GPU 0 does not exist" in info.value.message and "0 GPU" in info.value.message


def test_an_index_beyond_this_machines_gpus_is_refused() -> None:
    with pytest.raises(InvalidArgument) as info:
        system.gpu_free_mb([4096])
    assert "GPU 4096" in info.value.message


def test_gpus_are_read_through_nvml_and_it_is_shut_down_each_time(two_gpus: list[str]) -> None:
    info = system.machine_info()
    assert info["message"] == "GPU detected" and info["gpu_num"] == 2
    assert info["driver_version"] == "550.54.15" and info["gpu_free_mem"] == [6000, 3000]
    assert info["gpu_util"] == [None, None]  # the fake NVML has no utilization: unknown, not an error
    assert system.gpu_memory() == [{"free": 6000, "used": 2000, "total": 8000},
                                   {"free": 3000, "used": 5000, "total": 8000}]
    assert system.gpu_free_mb([1, 0]) == [3000, 6000]
    with pytest.raises(InvalidArgument) as err:
        system.gpu_free_mb([0, 2])
    assert "GPU 2 does not exist" in err.value.message and "2 GPU" in err.value.message
    assert two_gpus == ["init", "shutdown"] * 4
