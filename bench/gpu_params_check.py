"""On a GPU machine: the recommended batch size follows the GPU's free memory, read at request time.

Reads NVML through pdxsrv.system, recommends parameters, then holds most of the GPU's memory with
PyTorch (if installed) and recommends again: the batch size must drop. Prints one JSON line per step.
Usage: python bench/gpu_params_check.py
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pdxsrv import system  # noqa: E402
from pdxsrv.domain.params import recommended_params  # noqa: E402


def recommend(label: str) -> dict:
    free = system.gpu_free_mb([0])
    rows = {model: recommended_params(kind, model, [0], free, 10000, 10)["batch_size"]
            for kind, model in (("classification", "MobileNetV2"), ("classification", "ResNet50"),
                                ("segmentation", "UNet"), ("segmentation", "DeepLabV3P"))}
    out = {"step": label, "free_mb": free, "batch_size": rows}
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    print(json.dumps({"machine_info": system.machine_info(), "gpu_memory": system.gpu_memory()}), flush=True)
    before = recommend("idle")
    try:
        import torch
    except ImportError:
        print(json.dumps({"torch": "not installed; the second reading is skipped"}))
        return
    total = system.gpu_memory()[0]["total"]
    hold = torch.empty(int((total - 3000) * 1024 * 1024), dtype=torch.uint8, device="cuda")
    hold.fill_(1)
    torch.cuda.synchronize()
    after = recommend("most memory held")
    dropped = all(after["batch_size"][m] < before["batch_size"][m] for m in before["batch_size"])
    print(json.dumps({"batch_sizes_dropped": dropped}))
    del hold


if __name__ == "__main__":
    main()
