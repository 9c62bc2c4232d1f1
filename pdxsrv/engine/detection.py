"""Object detection (`KIND`) and instance segmentation (`INSTANCE_KIND`): paddledet networks on the engine's loop.

A sample is `(image C x H x W, target)` with the target of `pdxsrv.engine.det_data`; a batch is
the list of samples (targets differ in length). Training feeds `det_models.train_inputs` to the
network, which computes its own loss; evaluation feeds `det_models.eval_inputs` and splits the
network's boxes (and masks) per image, in original pixels, for `det_metric.DetectionMetric`.
"""

from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np

from pdxsrv.datasets.visualize import PALETTE
from pdxsrv.domain.params import MIN_SIDE
from pdxsrv.engine import augment, det_data, det_models
from pdxsrv.engine.base import DataSpec, EngineError, Prediction
from pdxsrv.engine.det_metric import DetectionMetric, InstanceMetric

DEFAULT_SCORE = 0.5


def _sample_dict(image: np.ndarray, target: dict[str, Any]) -> dict[str, Any]:
    """What det_models reads of a sample."""
    return {"image": image, "gt_bbox": target["gt_bbox"], "gt_class": target["gt_class"],
            "gt_score": target["gt_score"], "gt_poly": [[p.reshape(-1) for p in obj] for obj in target["gt_poly"]],
            "scale_factor": target["scale_factor"]}


def _rasterise(polys: list[list[np.ndarray]], shape: tuple[int, int]) -> np.ndarray:
    """[n, H, W] 0/1 masks of each object's polygons."""
    masks = np.zeros((len(polys), *shape), dtype=np.uint8)
    for mask, obj in zip(masks, polys):
        for poly in obj:
            cv2.fillPoly(mask, [np.round(poly.reshape(-1, 2)).astype(np.int32)], 1)
    return masks


class DetectionKind:
    """A detection project type; `masks` for instance segmentation."""

    balanced_batches = False

    def __init__(self, name: str, masks: bool) -> None:
        self.name, self.masks = name, masks
        # running averages lag the weights: trained on 35 images, YOLOv3 read 0.736 mAP with them on 200 new images
        # and 0.763 recomputed, Faster R-CNN 0.863 and 0.859 (a pass is one inference of up to 64 training images);
        # Mask R-CNN's pass would infer an image at a time and paste masks, for an R-CNN that gains nothing
        self.fresh_bn_stats = not masks
        self.models = det_models.INSTANCE_SEGMENTATION_MODELS if masks else det_models.DETECTION_MODELS
        self._notes: dict[int, det_data.Annotations] = {}

    def build_model(self, model: str, num_classes: int, in_channels: int, params: dict[str, Any]) -> Any:
        """The network (3 input channels only)."""
        if in_channels != 3:
            raise EngineError(f"{self.name} models take colour images; this dataset has {in_channels} bands")
        if det_models.resolve(model)[0] not in self.models:
            raise EngineError(f"model {model!r} is not a {self.name} model; one of: {', '.join(self.models)}")
        name = det_models.resolve(model)[0]
        if min(augment.image_shape(params, (320, 320))) < MIN_SIDE.get(name, 0):
            raise EngineError(f"{name} needs image_shape of at least {MIN_SIDE[name]} pixels a side; "
                              f"got {params.get('image_shape')}")
        backbone = params.get("backbone")
        network = det_models.build(model, num_classes, None if backbone in (None, "", "NA") else backbone, params)
        network.pdxsrv_num_classes = num_classes  # the YOLO targets of train_inputs need it
        return network

    def _annotations(self, data: DataSpec) -> det_data.Annotations:
        notes = self._notes.get(id(data))
        if notes is None or notes.data is not data:
            notes = self._notes[id(data)] = det_data.Annotations(data)
        return notes

    def sample(self, data: DataSpec, image: str, train: bool, rng: np.random.Generator,
               params: dict[str, Any], epoch: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
        """(normalised image, target) of one dataset image; YOLO-family training mixes up until `mixup_until`."""
        img = augment.read_rgb(f"{data.root}/{image}")
        notes = self._annotations(data)
        objects = notes.objects(image)
        if train:
            scores = None
            if epoch < det_data.mixup_until(params) and det_models.resolve(str(params.get("model")))[0] in det_models.YOLO_FAMILY:
                other = data.parts["train"][int(rng.integers(len(data.parts["train"])))]
                img, objects, scores = det_data.mixup(img, objects, augment.read_rgb(f"{data.root}/{other}"),
                                                      notes.objects(other), det_data.mixup_factor(params, rng))
            return det_data.train_sample(img, objects, params, rng, scores)
        x, target = det_data.eval_sample(img, objects, params)
        if self.masks:
            target["gt_mask"] = _rasterise(det_data.arrays(objects)[3], img.shape[:2])
        return x, target

    def collate(self, samples: Sequence[tuple[np.ndarray, dict[str, Any]]]) -> tuple[list[dict[str, Any]], list[dict]]:
        """The batch as det_models samples, and the targets for the metric."""
        return [_sample_dict(x, t) for x, t in samples], [t for _, t in samples]

    def train_loss(self, model: Any, inputs: list[dict[str, Any]], targets: list[dict], params: dict[str, Any]) -> Any:
        """The network's own loss on the batch."""
        feed = det_models.train_inputs(str(params.get("model")), inputs, model.pdxsrv_num_classes)
        return model(feed)["loss"]

    def infer(self, model: Any, inputs: list[dict[str, Any]]) -> list[dict[str, np.ndarray]]:
        """Per image: `bbox` [N, 6] in original pixels (and `mask` [N, H, W]). Masks are inferred an image at a time:
        paddledet pads an image without a box with a row but no mask, so the masks of a batch where one image has
        none no longer line up with the rows (wrong masks for later images; or paste_mask fails: "The value (4) of
        the non-singleton dimension does not match ... (0)")."""
        if self.masks and len(inputs) > 1:
            return [found for one in inputs for found in self.infer(model, [one])]
        out = model(det_models.eval_inputs(inputs))
        boxes, counts = out["bbox"].numpy(), out["bbox_num"].numpy().reshape(-1)
        masks = out["mask"].numpy() if self.masks and "mask" in out else None
        per_image, start = [], 0
        for n in counts:
            rows = boxes[start:start + n]
            real = (rows[:, 0] >= 0) & (rows[:, 1] > 0)  # paddledet pads an image without detections with a row
            # of class -1 (or 0 after the pir_nms shim) and score 0
            item = {"bbox": rows[real]}
            if masks is not None:
                part = masks[start:start + n]
                item["mask"] = part[real] if len(part) == len(rows) else np.zeros((0, 1, 1), np.uint8)
            per_image.append(item)
            start += int(n)
        return per_image

    def loss(self, outputs: Any, labels: Any, params: dict[str, Any]) -> Any:
        """Detection networks compute their loss inside (see train_loss)."""
        raise EngineError("detection losses come from the network itself")

    def new_metric(self, num_classes: int) -> DetectionMetric | InstanceMetric:
        """VOC mAP by box (and by mask for instance segmentation)."""
        return InstanceMetric(num_classes) if self.masks else DetectionMetric(num_classes)

    def predict(self, model: Any, path: str, data: DataSpec, params: dict[str, Any],
                options: dict[str, Any]) -> Prediction:
        """Boxes (and masks) scoring at least `score_thresh`, drawn with class names and scores."""
        img = augment.read_rgb(path)
        x, target = det_data.eval_sample(img, [], params)
        model.eval()
        (found,) = self.infer(model, [_sample_dict(x, target)])
        threshold = DEFAULT_SCORE if options.get("score_thresh") is None else float(options["score_thresh"])
        keep = found["bbox"][:, 1] >= threshold
        boxes = found["bbox"][keep]
        visual = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        if "mask" in found:
            overlay = visual.copy()
            for row, mask in zip(boxes, found["mask"][keep]):
                overlay[mask.astype(bool)] = PALETTE[int(row[0]) + 1]
            visual = cv2.addWeighted(visual, 0.5, overlay, 0.5, 0)
        results = []
        for cls, score, x1, y1, x2, y2 in boxes.tolist():
            name = data.labels[int(cls)] if 0 <= int(cls) < len(data.labels) else str(int(cls))
            colour = tuple(int(v) for v in PALETTE[int(cls) + 1])
            cv2.rectangle(visual, (int(x1), int(y1)), (int(x2), int(y2)), colour, 2)
            cv2.putText(visual, f"{name} {score:.2f}", (int(x1), max(10, int(y1) - 3)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.4, colour, 1, cv2.LINE_AA)
            results.append({"category": name, "category_id": int(cls), "score": score, "bbox": [x1, y1, x2, y2]})
        return Prediction({"objects": results, "score_thresh": threshold}, visual)


KIND = DetectionKind("detection", masks=False)
INSTANCE_KIND = DetectionKind("instance_segmentation", masks=True)
