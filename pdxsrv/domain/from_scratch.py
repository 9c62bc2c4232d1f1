"""From-scratch training recipes: what a new task trains with when no pretrained weights are available, pure.

The original's recommended values (`pdxsrv.domain.fine_tune`) are fine-tuning values: learning rates
of 0.0008-0.0016 and 10 epochs assume ImageNet/COCO/Cityscapes weights. From random weights they
stayed at chance or diverged (issue 15). A recipe here gives, per project type:

* the default model when the client names none: one that learns from scratch in few steps and runs
  on a CPU (ResNet18 for classification: MobileNet stacks need hundreds of epochs from scratch;
  BiSeNetV2 for segmentation; Faster R-CNN on ResNet18 for detection, which reached mAP 0.84 on 26
  images in 12 epochs where the YOLO family needs thousands of steps; Mask R-CNN on ResNet18);
* `image_shape` from the dataset's images (their mean short side rounded up to a multiple of 32),
  capped per device (a CPU gets smaller images), never upsampled beyond the images themselves;
* a batch size from a pixel budget per device, at least MIN_BATCH (batch norm needs several images),
  and at most an eighth of the training set (so an epoch has several steps); on a CPU the R-CNN family
  takes MIN_BATCH images a step whatever the budget: on 300 images of 64 px, batch 4 at lr 0.01 reached
  mAP 0.42 in one epoch where batch 16 at lr 0.02 had 0.19 after four (and without gradient clipping
  ran away at lr 0.02-0.04);
* Adam (Momentum for the R-CNN family) with the learning rate
  scaled to the batch (by its square root for Adam, linearly for Momentum), a cosine schedule, and
  warm-up where the family needs it (the engine also clips the R-CNN family's gradients:
  `pdxsrv.engine.schedule.CLIP_NORM`);
* an epoch count for the dataset's size: the type's number of epochs, more when that gives fewer than
  its minimum of optimizer steps (a small dataset has few steps an epoch), at most MAX_EPOCHS;
* mild colour augmentation (the original's 0.9 brightness/contrast range can flatten a small image).

`pdxsrv.domain.recipes` chooses between this and fine-tuning, and shrinks image size and epochs to a
time budget using the measured step costs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pdxsrv.domain.params import BACKBONES, MIN_SIDE

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
MIN_BATCH = 4
MAX_EPOCHS = 300


@dataclass(frozen=True)
class Recipe:
    """One project type's from-scratch numbers."""

    model: str  # the default model
    optimizer: str
    lr: float  # at batch size `lr_batch`
    lr_batch: int
    lr_max: float
    epochs: int  # passes over the training set
    min_steps: int  # optimizer steps at least (more epochs for a small dataset)
    side: tuple[int, int, int]  # (smallest, CPU cap, GPU cap) of image_shape
    pixels: int  # CPU pixel budget per batch (images x side^2)
    gpu_images: int  # GPU batch size cap
    warmup: int = 0  # steps
    keys: dict[str, Any] = field(default_factory=dict)  # the type's own keys
    least_epochs: int = 10  # the fewest a time budget may cut the epochs to
    cpu_images: int = 64  # CPU batch size cap (the R-CNN family learns from more, smaller steps)

    def learning_rate(self, batch: int) -> float:
        """The rate for `batch`: square-root scaling for Adam, linear for Momentum, capped at `lr_max`."""
        ratio = batch / self.lr_batch
        scaled = self.lr * (math.sqrt(ratio) if self.optimizer == "Adam" else ratio)
        return round(min(scaled, self.lr_max), 6)


_FLIPS = {"horizontal_flip": True, "horizontal_flip_prob": 0.5}
_MILD_COLOUR = {"brightness": True, "brightness_range": 0.3, "brightness_prob": 0.5,
                "contrast": True, "contrast_range": 0.3, "contrast_prob": 0.5,
                "saturation": False, "saturation_range": 0.3, "saturation_prob": 0.5,
                "hue": False, "hue_range": 18, "hue_prob": 0.5}
_NO_COLOUR = {**_MILD_COLOUR, "brightness": False, "contrast": False}
_DETECTION = {"use_mixup": False, "expand_image": False, "expand_prob": 0.5, "crop_image": True,
              "mixup_alpha": 1.5, "mixup_beta": 1.5}
RECIPES: dict[str, Recipe] = {
    "classification": Recipe(
        "ResNet18", "Adam", 0.001, 4, 0.004, 30, 100, (32, 128, 224), 8 * 128 * 128, 64,
        keys={**_FLIPS, **_MILD_COLOUR, "vertical_flip": False, "vertical_flip_prob": 0.5,
              "image_mean": IMAGENET_MEAN, "image_std": IMAGENET_STD}),
    "segmentation": Recipe(
        "BiSeNetV2", "Adam", 0.01, 8, 0.01, 30, 200, (32, 256, 512), 8 * 128 * 128, 16,
        keys={**_FLIPS, **_NO_COLOUR, "vertical_flip": False, "vertical_flip_prob": 0.5, "blur": False,
              "blur_prob": 0.1, "scale_aspect": False, "min_ratio": 0.5, "aspect_ratio": 0.33,
              "loss_type": [False, False], "image_mean": [0.5] * 3, "image_std": [0.5] * 3}),
    "detection": Recipe(
        "FasterRCNN", "Momentum", 0.02, 8, 0.04, 10, 200, (64, 256, 608), 8 * 128 * 128, 16, warmup=40,
        least_epochs=4, cpu_images=4, keys={**_FLIPS, **_MILD_COLOUR, **_DETECTION, "backbone": "ResNet18", "image_mean": IMAGENET_MEAN,
              "image_std": IMAGENET_STD}),
    "instance_segmentation": Recipe(
        "MaskRCNN", "Momentum", 0.005, 8, 0.01, 10, 200, (64, 256, 800), 8 * 128 * 128, 8, warmup=40,
        least_epochs=4, cpu_images=4, keys={**_FLIPS, **_NO_COLOUR, **_DETECTION, "backbone": "ResNet18", "image_mean": IMAGENET_MEAN,
              "image_std": IMAGENET_STD}),
}
RECIPES["remote_segmentation"] = RECIPES["segmentation"]
# A model whose own steps differ from its type's (R-CNN learns in far fewer, dearer steps than YOLO).
_YOLO = {"optimizer": "Adam", "lr": 0.001, "lr_max": 0.002, "epochs": 100, "min_steps": 3000, "warmup": 100,
         "pixels": 8 * 160 * 160, "gpu_images": 32, "least_epochs": 10, "cpu_images": 64}
MODEL_OVERRIDES: dict[str, dict[str, Any]] = {
    "YOLOv3": {**_YOLO, "side": (64, 320, 608), "keys": {"backbone": "MobileNetV3"}},
    "PPYOLO": {**_YOLO, "side": (MIN_SIDE["PPYOLO"], 320, 608), "keys": {"backbone": "ResNet50_vd"}},
    "PPYOLOTiny": {**_YOLO, "side": (MIN_SIDE["PPYOLOTiny"], 320, 608), "keys": {"backbone": "MobileNetV3"}},
    "PicoDet": {**_YOLO, "side": (MIN_SIDE["PicoDet"], 320, 608), "keys": {"backbone": "LCNet"}},
}


def recipe_for(project_type: str, model: str) -> Recipe:
    """The type's recipe with the model's own differences."""
    from dataclasses import replace

    recipe = RECIPES[project_type]
    override = MODEL_OVERRIDES.get(model)
    if override is None or project_type not in ("detection", "instance_segmentation"):
        return recipe
    keys = {**recipe.keys, **override.get("keys", {})}
    return replace(recipe, **{k: v for k, v in override.items() if k != "keys"}, keys=keys)


def image_side(recipe: Recipe, typical: float | None, on_gpu: bool) -> int:
    """The square image side: the data's typical side rounded up to 32, within the recipe's bounds."""
    smallest, cpu_cap, gpu_cap = recipe.side
    cap = gpu_cap if on_gpu else cpu_cap
    if not typical:
        return cap
    return max(smallest, min(cap, 32 * math.ceil(typical / 32)))


def batch_for(recipe: Recipe, side: int, num_train: int, gpu_batch: int | None) -> int:
    """Images per step: the GPU's memory-based size or the CPU pixel budget (within `cpu_images`), at least
    MIN_BATCH, at most an eighth of the training set (and never more than half of it)."""
    budget = gpu_batch if gpu_batch is not None else max(min(recipe.pixels // (side * side), recipe.cpu_images),
                                                         MIN_BATCH)
    budget = min(budget, recipe.gpu_images)
    bs = min(budget, max(MIN_BATCH, num_train // 8), max(num_train // 2, 1))
    return max(bs, 1)


def epochs_for(recipe: Recipe, steps_per_epoch: int) -> int:
    """The recipe's epochs, or more to give its minimum of optimizer steps, at most MAX_EPOCHS."""
    return min(MAX_EPOCHS, max(recipe.epochs, math.ceil(recipe.min_steps / max(steps_per_epoch, 1))))


def params(project_type: str, model: str, side: int, batch: int, num_epochs: int, steps_per_epoch: int,
           gpu_list: list[int]) -> dict[str, Any]:
    """The from-scratch `train` parameters of `model` at `side` px, `batch` images a step, `num_epochs`."""
    recipe = recipe_for(project_type, model)
    keys = dict(recipe.keys)
    if "backbone" in keys and keys["backbone"] not in BACKBONES.get(model, ()):
        keys.pop("backbone")
    warmup = min(recipe.warmup, num_epochs * steps_per_epoch // 10)
    return {
        "model": model, "cuda_visible_devices": ",".join(str(g) for g in gpu_list), "pretrain_weights": None,
        "image_shape": [side, side], "batch_size": batch, "num_epochs": num_epochs,
        "save_interval_epochs": max(1, num_epochs // 5), "optimizer": recipe.optimizer,
        "learning_rate": recipe.learning_rate(batch), "lr_policy": "Cosine", "lr_decay_epochs": [],
        "warmup_steps": warmup, "warmup_start_lr": 0.0, **keys,
    }
