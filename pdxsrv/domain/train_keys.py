"""The table of training parameters (`train`): every key each project type accepts, pure data.

A `Key` has a kind (how a value is read, `pdxsrv.domain.train_values`), a range or choices, the
fallback default (what the engine does when the key is absent), a one-line meaning, the models it
has an effect on (empty: all of the type's) and, for a key that is accepted but has no effect, the
reason (`ignored`). `pdxsrv.domain.train_schema` checks, completes and documents with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pdxsrv.domain.params import ALIASES, BACKBONES, DEFAULT_MODEL, MODELS

INT, FLOAT, BOOL, CHOICE, ANY = "int", "float", "bool", "choice", "any"
INT_LIST, FLOAT_LIST, BOOL_LIST = "int_list", "float_list", "bool_list"
MODEL, BACKBONE, WEIGHTS, DEVICES = "model", "backbone", "weights", "devices"

TYPES: tuple[str, ...] = tuple(MODELS)
# The engine's own lists (pdxsrv.engine.seg_models, det_models; a test holds them equal): the domain imports no engine.
DEEPLAB_BACKBONES: tuple[str, ...] = ("ResNet50_vd", "ResNet101_vd")
YOLO_FAMILY: tuple[str, ...] = ("YOLOv3", "PPYOLO", "PPYOLOTiny")  # the models mixup applies to
WEIGHT_KEYWORDS: tuple[str, ...] = ("IMAGENET", "COCO", "CITYSCAPES")
POLICIES: tuple[str, ...] = ("Piecewise", "Cosine", "Polynomial", "Linear")
OPTIMIZERS: tuple[str, ...] = ("SGD", "Momentum", "Adam", "AdamW")


@dataclass(frozen=True)
class Key:
    """One training parameter of one project type."""

    name: str
    kind: str
    meaning: str
    default: Any = None
    low: float | None = None  # for lists: of each item
    high: float | None = None
    open_low: bool = False  # `low` itself is refused
    open_high: bool = False
    choices: tuple[str, ...] = ()
    size: tuple[int, int] | None = None  # (fewest, most) items of a list
    nullable: bool = False
    models: tuple[str, ...] = ()  # the models it has an effect on; () = every model of the type
    ignored: str = ""  # why it is accepted although nothing reads it


def _int(name: str, meaning: str, default: int, low: int, high: int | None = None) -> Key:
    """An integer key."""
    return Key(name, INT, meaning, default, low, high)


def _prob(name: str, meaning: str, default: float) -> Key:
    """A probability (0 to 1)."""
    return Key(name, FLOAT, meaning, default, 0.0, 1.0)


def _switch(name: str, meaning: str, default: bool, models: tuple[str, ...] = ()) -> Key:
    """A boolean key."""
    return Key(name, BOOL, meaning, default, models=models)


def _ignored(name: str, reason: str) -> Key:
    """A key accepted with any value and read by nothing, for the reason given."""
    return Key(name, ANY, f"the original's {name}", ignored=reason)


def _distortion(name: str, what: str, high: float, default_range: float, unit: str = "") -> tuple[Key, ...]:
    """A colour jitter's switch, probability and range."""
    return (_switch(name, f"random {what} jitter on or off (off: its probability is 0)", True),
            _prob(f"{name}_prob", f"probability of the {what} jitter", 0.5),
            Key(f"{name}_range", FLOAT, f"largest {what} change{unit}", default_range, 0.0, high))


def _common(project_type: str, policy: str, optimizer: str, shape: int) -> tuple[Key, ...]:
    """The keys every project type has, with the type's fallbacks."""
    aliases = tuple(a for a, m in ALIASES.items() if m in MODELS[project_type])
    return (
        Key("model", MODEL, "the network to train (" + ", ".join(MODELS[project_type]) + ")",
            DEFAULT_MODEL[project_type], choices=MODELS[project_type] + aliases),
        _int("batch_size", "images per training step (at most the training set's size)", 2, 1, 65536),
        _int("num_epochs", "passes over the training set", 4, 1, 100000),
        _int("save_interval_epochs", "keep a checkpoint every N epochs (and after the last one)", 1, 1, 100000),
        Key("learning_rate", FLOAT, "the base learning rate", 0.01, 0.0, 10.0, open_low=True, open_high=True),
        Key("lr_decay_epochs", INT_LIST, "epochs after which the Piecewise policy multiplies the rate by 0.1", [],
            0, 100000),
        Key("lr_policy", CHOICE, "learning-rate schedule", policy, choices=POLICIES),
        Key("optimizer", CHOICE, "optimizer (SGD and Momentum: momentum 0.9)", optimizer, choices=OPTIMIZERS),
        Key("weight_decay", FLOAT, "L2 regularisation coefficient", 1e-4, 0.0, 0.1),
        _int("warmup_steps", "steps of linear warm-up from warmup_start_lr to learning_rate", 0, 0),
        Key("warmup_start_lr", FLOAT, "learning rate at the first warm-up step", 0.0, 0.0),
        _int("seed", "seed of the batch order and of the augmentation", 0, 0, 2**32 - 1),
        Key("pretrain_weights", WEIGHTS, "starting weights: null (from scratch), IMAGENET, COCO or CITYSCAPES "
            "(PaddlePaddle's published weights, from the machine's weights cache or downloaded into it), a "
            "pretrained model id (PM0001) or a model directory", None, nullable=True),
        Key("cuda_visible_devices", DEVICES, 'GPUs to train on, e.g. "0" or "0,1"; "" for the CPU', ""),
        Key("image_shape", INT_LIST, "[width, height] the network sees (one number: a square)", [shape, shape],
            8, 8192, size=(1, 2)),
        Key("image_mean", FLOAT_LIST, "per-band mean subtracted from pixels scaled to [0, 1] (repeated over extra "
            "bands)", [0.5] * 3, size=(1, 64)),
        Key("image_std", FLOAT_LIST, "per-band standard deviation the pixels are divided by", [0.5] * 3, 0.0,
            open_low=True, size=(1, 64)),
        _switch("horizontal_flip", "random horizontal flip on or off", True),
        _prob("horizontal_flip_prob", "probability of the horizontal flip", 0.5),
        *_distortion("brightness", "brightness", 1.0, 0.5, " (factor 1 +- range)"),
        *_distortion("contrast", "contrast", 1.0, 0.5, " (factor 1 +- range)"),
        *_distortion("saturation", "saturation", 1.0, 0.5, " (factor 1 +- range)"),
        *_distortion("hue", "hue", 180.0, 18, " in degrees"),
        _ignored("use_gpu", 'the device follows cuda_visible_devices ("" is the CPU)'),
        _ignored("cpu_num", "a CPU job computes on every core it may run on (PDXSRV_CPU_THREADS overrides)"),
        _ignored("train_num", "the training set is the dataset's split"),
        _ignored("rotate", "there is no rotation augmentation (the original's 2.x trainers had none either)"),
        _ignored("rotate_prob", "there is no rotation augmentation"),
        _ignored("rotate_range", "there is no rotation augmentation"),
        _ignored("resume_checkpoint", "server-managed: PUT /project/task/train {act: resume, epoch} chooses it"),
        _ignored("sensitivities_path", "server-managed: a pruning task uses its parent's analysis"),
        _ignored("pruned_flops", "server-managed: given to POST /project/task/train"),
        _ignored("eval_metric_loss", "server-managed: given to POST /project/task/train (PaddleX 1.x)"),
    )


_NOT_DETECTION_FLIP = "detection does not flip vertically"
_DETECTION = (
    Key("backbone", BACKBONE, 'the backbone of the model ("" or "NA": the model\'s default)', ""),
    _switch("use_mixup", "blend a second training image in (mixup)", False, YOLO_FAMILY),
    Key("mixup_alpha", FLOAT, "alpha of the Beta distribution of the mixup weight", 1.5, 0.0, open_low=True,
        models=YOLO_FAMILY),
    Key("mixup_beta", FLOAT, "beta of the Beta distribution of the mixup weight", 1.5, 0.0, open_low=True,
        models=YOLO_FAMILY),
    Key("mixup_epoch", INT, "mixup during the first N epochs (null: 25/27 of the epochs)", None, 0, nullable=True,
        models=YOLO_FAMILY),
    _switch("expand_image", "random expansion onto a mean-colour canvas on or off", True),
    _prob("expand_prob", "probability of the random expansion", 0.5),
    _switch("crop_image", "random crop keeping the objects' centres on or off", True),
    _ignored("with_fpn", "the R-CNN models always have an FPN and the others none"),
    _ignored("random_shape", "random input shapes are not applied (nor were they by the original's 2.x trainer)"),
    _ignored("random_shape_sizes", "random input shapes are not applied"),
    _ignored("vertical_flip", _NOT_DETECTION_FLIP),
    _ignored("vertical_flip_prob", _NOT_DETECTION_FLIP),
)
_SEGMENTATION = (
    Key("backbone", BACKBONE, 'the backbone of DeepLabV3P ("" or "NA": ResNet50_vd; the other models have none)', ""),
    Key("loss_type", BOOL_LIST, "[dice loss, BCE loss] added to the cross-entropy", [False, False], size=(2, 2)),
    _switch("blur", "random Gaussian blur on or off", False),
    _prob("blur_prob", "probability of the blur", 0.1),
    _switch("scale_aspect", "random crop of scaled area and aspect on or off", False),
    Key("min_ratio", FLOAT, "smallest area share of the scale-aspect crop", 0.5, 0.0, 1.0, open_low=True),
    Key("aspect_ratio", FLOAT, "most extreme aspect of the scale-aspect crop (0.33: 1:3 to 3:1)", 0.33, 0.0, 1.0,
        open_low=True),
    _switch("vertical_flip", "random vertical flip on or off", False),
    _prob("vertical_flip_prob", "probability of the vertical flip", 0.0),
    _ignored("max_rotation", "there is no rotation augmentation (PaddleX 1.x's)"),
)
_CLASSIFICATION = (
    _switch("vertical_flip", "random vertical flip on or off", True),
    _prob("vertical_flip_prob", "probability of the vertical flip", 0.0),
    _ignored("backbone", "a classification model is its own backbone"),
)


def _table(project_type: str, own: tuple[Key, ...], policy: str, optimizer: str, shape: int) -> dict[str, Key]:
    """The keys of a project type by name: the common ones with its fallbacks, then its own."""
    return {k.name: k for k in _common(project_type, policy, optimizer, shape) + own}


KEYS: dict[str, dict[str, Key]] = {
    "classification": _table("classification", _CLASSIFICATION, "Piecewise", "Momentum", 224),
    "detection": _table("detection", _DETECTION, "Piecewise", "SGD", 608),
    "segmentation": _table("segmentation", _SEGMENTATION, "Polynomial", "SGD", 512),
    "instance_segmentation": _table("instance_segmentation", _DETECTION, "Piecewise", "SGD", 608),
    "remote_segmentation": _table("remote_segmentation", _SEGMENTATION, "Polynomial", "SGD", 512),
}


def backbones(project_type: str, model: str) -> tuple[str, ...]:
    """The backbones `model` can be trained with (the first is its default); () if it has none."""
    if project_type in ("detection", "instance_segmentation"):
        return BACKBONES.get(model, ())
    return DEEPLAB_BACKBONES if model == "DeepLabV3P" and project_type in KEYS else ()
