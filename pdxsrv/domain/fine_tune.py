"""The original's recommended training parameters (PaddleX 2.1.1 `params_v2.get_params`, spec §6.2), pure.

These are fine-tuning values: the learning rates and schedules assume ImageNet/COCO/Cityscapes weights
to start from. `pdxsrv.domain.recipes` answers them when such weights are available, and a
from-scratch recipe (`pdxsrv.domain.from_scratch`) otherwise.

One row per model family (matched by the longest name prefix) holds the batch-size formula
`(M - offset) // divisor * G` capped at `cap * G` (M = free MB of the emptiest chosen GPU, G = GPU
count), the schedule, the learning rate, normalisation, colour augmentation and the family's extra
keys. The project type adds its own keys on top (original: project/train/params_v2.py:get_params).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from pdxsrv.domain.params import choose_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)
CPU_IMAGES_PER_CORE = 2


@dataclass(frozen=True)
class Family:
    """The recommended numbers shared by every model whose name starts with one of `prefixes`."""

    prefixes: tuple[str, ...]
    offset: int
    divisor: int
    cap: int
    image_shape: tuple[int, int]
    save_interval_epochs: int
    num_epochs: int
    lr_decay_epochs: tuple[int, ...]
    learning_rate: Callable[[int], float]
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    distort: tuple[bool, bool, bool, bool] = (False, False, False, False)  # brightness, contrast, saturation, hue
    distort_range: float = 0.5
    warmup: str | None = None  # "yolo" | "rcnn" | None
    extras: dict[str, Any] = field(default_factory=dict)


def _cls(prefixes: tuple[str, ...], offset: int, divisor: int, cap: int, lr_base: int) -> Family:
    """A classification row: 224x224, 10 epochs, lr = bs / lr_base * 0.1."""
    return Family(prefixes, offset, divisor, cap, (224, 224), 5, 10, (4, 6, 8),
                  lambda bs: bs / lr_base * 0.1, distort=(True, True, False, False), distort_range=0.9)


def _yolo_extras(backbone: str, *, mixup: bool = True) -> dict[str, Any]:
    """The one-stage detector keys (mixup and expand only where the trainer uses them)."""
    return {"backbone": backbone, "use_mixup": mixup, "mixup_alpha": 1.5, "mixup_beta": 1.5, "expand_prob": 0.5,
            "expand_image": mixup, "crop_image": True, "random_shape": True,
            "random_shape_sizes": list(range(320, 609, 32))}


def _yolo(prefix: str, offset: int, divisor: int, cap: int, shape: int, epochs: int, decay: tuple[int, ...],
          lr: Callable[[int], float], backbone: str) -> Family:
    """A one-stage detector row: full colour distortion and YOLO-style warmup."""
    return Family((prefix,), offset, divisor, cap, (shape, shape), 30, epochs, decay, lr,
                  distort=(True,) * 4, warmup="yolo", extras=_yolo_extras(backbone))


def _rcnn(prefix: str, offset: int, divisor: int) -> Family:
    """A two-stage detector row: 800x1333, 12 epochs, RCNN-style warmup."""
    return Family((prefix,), offset, divisor, 2, (800, 1333), 1, 12, (8, 11), lambda bs: 0.02 * bs / 16,
                  warmup="rcnn", extras={"backbone": "ResNet50"})


def _seg(prefixes: tuple[str, ...], offset: int, divisor: int, extras: dict[str, Any]) -> Family:
    """A segmentation row: 512x512, 100 epochs, mean/std 0.5, lr = 0.01 * bs / 2."""
    return Family(prefixes, offset, divisor, 4, (512, 512), 10, 100, (10, 20), lambda bs: 0.01 * bs / 2,
                  mean=HALF, std=HALF, extras=extras)


def _yolo_lr(bs: int) -> float:
    """YOLOv3/PPYOLO/PPYOLOv2 learning rate."""
    return 0.005 / 12 * bs / 8


PPYOLO_TINY = _yolo("PPYOLOTiny", 579, 1025, 16, 320, 550, (130, 540), lambda bs: 0.005 * bs / 16, "MobileNetV3")
CITYSCAPES = {"pretrain_weights": "CITYSCAPES"}
FAMILIES: tuple[Family, ...] = (
    _cls(("MobileNet", "PPLCNet"), 513, 57, 125, 500),
    _cls(("DenseNet", "ResNet", "Xception", "DarkNet", "ShuffleNet"), 739, 211, 16, 256),
    _yolo("YOLOv3", 1555, 943, 8, 608, 270, (216, 243), _yolo_lr, "DarkNet53"),
    PPYOLO_TINY,
    replace(PPYOLO_TINY, prefixes=("PicoDet",), extras=_yolo_extras("LCNet", mixup=False)),
    _yolo("PPYOLOv2", 1691, 1025, 4, 608, 170, (105, 135, 150), _yolo_lr, "ResNet50_vd_dcn"),
    _yolo("PPYOLO", 1691, 1025, 4, 608, 200, (85, 135), _yolo_lr, "ResNet50_vd"),
    _rcnn("FasterRCNN", 1755, 915),
    _rcnn("MaskRCNN", 2702, 1188),
    _seg(("DeepLab",), 1469, 1605, {"backbone": "ResNet50_vd", "pretrain_weights": "IMAGENET"}),
    _seg(("BiSeNetV2", "PPLiteSeg"), 591, 1605, CITYSCAPES),
    _seg(("UNet",), 1275, 1256, {"pretrain_weights": "COCO"}),
    _seg(("HRNet_W18",), 800, 682, CITYSCAPES),
    _seg(("FastSCNN",), 636, 144, CITYSCAPES),
)

_TYPE_EXTRAS: dict[str, dict[str, Any]] = {
    "classification": {"pretrain_weights": "IMAGENET", "lr_policy": "Piecewise", "vertical_flip_prob": 0.5,
                       "vertical_flip": True, "rotate": True, "rotate_prob": 0.5, "rotate_range": 30},
    "detection": {"with_fpn": True, "pretrain_weights": "IMAGENET"},
    "segmentation": {"loss_type": [False, False], "lr_policy": "Polynomial", "optimizer": "SGD", "blur": False,
                     "blur_prob": 0.1, "rotate": False, "scale_aspect": False, "min_ratio": 0.5,
                     "aspect_ratio": 0.33, "vertical_flip": False, "vertical_flip_prob": 0.5},
}
_TYPE_EXTRAS["instance_segmentation"] = _TYPE_EXTRAS["detection"]
_TYPE_EXTRAS["remote_segmentation"] = _TYPE_EXTRAS["segmentation"]


def family_of(model: str) -> Family:
    """The family whose longest prefix starts `model` (LookupError if none)."""
    matches = [(len(p), f) for f in FAMILIES for p in f.prefixes if model.startswith(p)]
    if not matches:
        raise LookupError(model)
    return max(matches, key=lambda m: m[0])[1]


def batch_size(family: Family, gpu_free_mb: list[int], num_train: int, cpu: tuple[int, int] = (2, 4096)) -> int:
    """Batch size from the emptiest GPU's free memory times the GPU count, or on the CPU from its cores and
    free RAM (`cpu` = (cores, free MB): 2 images per core, half the free RAM at the GPU formula's MB per image),
    within the family's cap and half the training set."""
    if gpu_free_mb:
        gpus = len(gpu_free_mb)
        bs = min((min(gpu_free_mb) - family.offset) // family.divisor * gpus, family.cap * gpus)
    else:
        cores, free_mb = cpu
        bs = min(CPU_IMAGES_PER_CORE * max(cores, 1), (free_mb // 2 - family.offset) // family.divisor, family.cap)
    return max(min(bs, num_train // 2), 1)


def warmup_steps(kind: str, steps_per_epoch: int, num_gpus: int, num_classes: int) -> int:
    """LinearWarmup steps: YOLO-style scale with the class count, RCNN-style with one epoch."""
    gpus = num_gpus or 1
    if kind == "yolo":
        return min(max(3 * steps_per_epoch, 50 * num_classes), int(400 * num_classes / gpus))
    return min(max(steps_per_epoch, 50), int(4000 / gpus))


def fine_tune_params(project_type: str, model_type: str | None, gpu_list: list[int], gpu_free_mb: list[int],
                       num_train: int, num_classes: int, cpu: tuple[int, int] = (2, 4096)) -> dict[str, Any]:
    """The recommended `train` parameters for a model of `project_type` on the GPUs `gpu_list` ([] = CPU, whose
    (cores, free MB of RAM) are `cpu`)."""
    model = choose_model(project_type, model_type)
    if gpu_list and len(gpu_free_mb) != len(gpu_list):
        raise ValueError(f"gpu_free_mb {gpu_free_mb} does not match gpu_list {gpu_list}")
    family = family_of(model)
    bs = batch_size(family, gpu_free_mb if gpu_list else [], num_train, cpu)
    num_epochs, decay = family.num_epochs, list(family.lr_decay_epochs)
    params: dict[str, Any] = {"model": model, "cpu_num": 1,
                              "cuda_visible_devices": ",".join(str(g) for g in gpu_list)}
    if family.warmup is not None:
        steps = max(num_train // bs, 1)
        warmup = warmup_steps(family.warmup, steps, len(gpu_list), num_classes)
        if warmup >= decay[0] * steps:
            shift = warmup // steps
            decay, num_epochs = [e + shift for e in decay], num_epochs + shift
        params["warmup_steps"] = warmup
    brightness, contrast, saturation, hue = family.distort
    params.update({
        "batch_size": bs, "learning_rate": family.learning_rate(bs), "image_shape": list(family.image_shape),
        "save_interval_epochs": family.save_interval_epochs, "num_epochs": num_epochs, "lr_decay_epochs": decay,
        "resume_checkpoint": None, "sensitivities_path": None,
        "image_mean": list(family.mean), "image_std": list(family.std),
        "horizontal_flip": True, "horizontal_flip_prob": 0.5,
        "brightness": brightness, "brightness_range": family.distort_range, "brightness_prob": 0.5,
        "contrast": contrast, "contrast_range": family.distort_range, "contrast_prob": 0.5,
        "saturation": saturation, "saturation_range": family.distort_range, "saturation_prob": 0.5,
        "hue": hue, "hue_range": 18, "hue_prob": 0.5,
    })
    params.update(copy.deepcopy(_TYPE_EXTRAS[project_type]))
    params.update(copy.deepcopy(family.extras))
    return params
