"""The detection networks: every model/backbone trains a step, predicts and exports; the paddledet shims are needed."""

from __future__ import annotations

import json
import linecache
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest

from pdxsrv.datasets import synthetic
from pdxsrv.engine import compat, det_models, export
from pdxsrv.engine.base import EngineError

paddle = pytest.importorskip("paddle")
pytest.importorskip("ppdet")
cv2 = pytest.importorskip("cv2")

NUM_CLASSES = 3
SIZE = 160  # network input; the synthetic images are 128 px
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
COMBOS = [(m, b) for m in det_models.MODELS for b in det_models.BACKBONES[m]]
# Mask R-CNN + ResNet18 trains, evaluates and exports in test_training_e2e and test_training_lifecycle
# already (the instance cases); here it would repeat them at a minute of CPU.
ENGINE_COMBOS = [c for c in COMBOS if c != ("MaskRCNN", "ResNet18")]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _image(path: str) -> tuple[np.ndarray, float, float]:
    """A normalised SIZE x SIZE CHW image and its (y, x) scale factors."""
    img = cv2.imread(path)[:, :, ::-1]
    h, w = img.shape[:2]
    img = cv2.resize(img, (SIZE, SIZE)).astype(np.float32) / 255.0
    return ((img - MEAN) / STD).transpose(2, 0, 1).copy(), SIZE / h, SIZE / w


def _voc_samples(root: str, count: int) -> list[dict[str, Any]]:
    """The first `count` images of a synthetic VOC set as engine samples."""
    names = sorted(os.listdir(os.path.join(root, "Annotations")))[:count]
    objects = [ET.parse(os.path.join(root, "Annotations", n)).getroot().findall("object") for n in names]
    labels = sorted({o.findtext("name") for objs in objects for o in objs})
    samples = []
    for name, objs in zip(names, objects):
        image, sy, sx = _image(os.path.join(root, "JPEGImages", name[:-4] + ".jpg"))
        boxes = [[float(o.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")] for o in objs]
        box = (np.array(boxes, np.float32) + [0, 0, 1, 1]) * [sx, sy, sx, sy]
        samples.append({"image": image, "gt_bbox": box, "gt_class": [labels.index(o.findtext("name")) for o in objs],
                        "scale_factor": [sy, sx]})
    return samples


def _coco_samples(root: str, count: int) -> list[dict[str, Any]]:
    """The first `count` images of a synthetic COCO polygon set as engine samples (with gt_poly)."""
    with open(os.path.join(root, "annotations.json")) as f:
        coco = json.load(f)
    samples = []
    for im in coco["images"][:count]:
        image, sy, sx = _image(os.path.join(root, "JPEGImages", im["file_name"]))
        anns = [a for a in coco["annotations"] if a["image_id"] == im["id"]]
        box = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)], np.float32)
        polys = [[(np.array(p, np.float32).reshape(-1, 2) * [sx, sy]).reshape(-1) for p in a["segmentation"]]
                 for a in anns]
        samples.append({"image": image, "gt_bbox": box * [sx, sy, sx, sy], "gt_poly": polys,
                        "gt_class": [a["category_id"] - 1 for a in anns], "scale_factor": [sy, sx]})
    return samples


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Two detection samples and two instance segmentation samples."""
    base = tmp_path_factory.mktemp("detdata")
    synthetic.make("detection", str(base / "det"), fmt="voc", images=4, size=128)
    synthetic.make("instance_segmentation", str(base / "ins"), fmt="coco", images=4, size=128)
    return {"detection": _voc_samples(str(base / "det"), 2), "instance": _coco_samples(str(base / "ins"), 2)}


def test_names_and_errors() -> None:
    assert det_models.MODELS == ("YOLOv3", "PPYOLO", "PPYOLOTiny", "PicoDet", "FasterRCNN", "MaskRCNN")
    assert det_models.resolve("yolov3", "darknet53") == ("YOLOv3", "DarkNet53")
    assert det_models.resolve("FasterRCNN") == ("FasterRCNN", "ResNet50")
    for model in ("SOLOv2", "SSD", ""):
        with pytest.raises(EngineError, match="one of: YOLOv3, PPYOLO"):
            det_models.build(model, NUM_CLASSES)
    with pytest.raises(EngineError, match="one of: ResNet50, ResNet34, ResNet18"):
        det_models.build("FasterRCNN", NUM_CLASSES, "ResNet101")
    with pytest.raises(EngineError):
        det_models.build("YOLOv3", 0)


def test_train_inputs_per_family(data: dict[str, list[dict[str, Any]]]) -> None:
    samples = data["instance"]
    yolo = det_models.train_inputs("PPYOLO", samples, NUM_CLASSES)
    assert yolo["gt_bbox"].shape == [2, det_models.YOLO_MAX_BOXES, 4]
    assert yolo["target0"].shape == [2, 3, 6 + NUM_CLASSES, SIZE // 32, SIZE // 32]
    assert yolo["im_shape"].numpy().tolist() == [[SIZE, SIZE]] * 2
    pico = det_models.train_inputs("PicoDet", samples, NUM_CLASSES, epoch=3)
    assert pico["gt_class"].dtype == paddle.int64 and pico["epoch_id"] == 3  # int32 fails in ATSSAssigner
    assert pico["gt_bbox"].shape[:2] == pico["pad_gt_mask"].shape[:2] == pico["gt_class"].shape[:2]
    rcnn = det_models.train_inputs("MaskRCNN", samples, NUM_CLASSES)
    assert [c.dtype for c in rcnn["gt_class"]] == [paddle.int32] * 2
    assert [len(p) for p in rcnn["gt_poly"]] == [len(s["gt_class"]) for s in samples]
    assert "gt_poly" not in det_models.train_inputs("FasterRCNN", samples, NUM_CLASSES)
    assert set(det_models.eval_inputs(samples)) == {"image", "im_shape", "scale_factor"}
    assert list(det_models.input_spec("PicoDet")[0]) == ["image", "scale_factor"]


def test_shims_are_idempotent() -> None:
    from ppdet.modeling import ops, post_process
    from ppdet.modeling.proposal_generator import rpn_head, target, target_layer

    def current() -> list[Any]:
        return [ops.multiclass_nms, ops.matrix_nms, rpn_head.RPNHead._gen_proposal, target.generate_mask_target,
                target.generate_proposal_target, target_layer.generate_proposal_target,
                post_process.BBoxPostProcess.get_pred]

    compat.apply_detection_shims()
    first = current()
    assert all(getattr(fn, "_pdxsrv_shim", False) for fn in first)
    assert target_layer.generate_mask_target is target.generate_mask_target
    compat.apply_detection_shims()
    assert current() == first


@pytest.mark.parametrize("model,backbone", ENGINE_COMBOS)
def test_train_step_and_eval(model: str, backbone: str, data: dict[str, list[dict[str, Any]]]) -> None:
    samples = data["instance" if model == "MaskRCNN" else "detection"]
    paddle.seed(0)
    net = det_models.build(model, NUM_CLASSES, backbone)
    opt = paddle.optimizer.Momentum(learning_rate=1e-4, momentum=0.9, parameters=net.parameters())
    net.train()
    loss = net(det_models.train_inputs(model, samples, NUM_CLASSES))["loss"]
    assert math.isfinite(float(loss))
    loss.backward()
    opt.step()
    opt.clear_grad()
    net.eval()
    with paddle.no_grad():
        out = net(det_models.eval_inputs(samples))
    bbox, bbox_num = out["bbox"].numpy(), out["bbox_num"].numpy()
    assert bbox.ndim == 2 and bbox.shape[1] == 6 and bbox.dtype == np.float32
    assert bbox_num.shape == (2,) and int(bbox_num.sum()) == len(bbox)
    if model == "MaskRCNN":
        assert out["mask"].shape == [len(bbox), 128, 128]


# Runs without the shims (they patch module state, so a fresh interpreter): the two failures they fix.
UNSHIMMED = r"""
import json, os, sys
import numpy as np
import paddle
from pdxsrv.engine import det_models

rng = np.random.default_rng(0)
samples = [{"image": rng.standard_normal((3, 128, 128)).astype("float32"), "gt_class": [0, 2],
            "gt_bbox": np.array([[10, 12, 60, 70], [70, 40, 120, 100]], "float32")} for _ in range(2)]

def rcnn_step():
    net = det_models.BUILDERS["FasterRCNN"](3, "ResNet18")
    net.train()
    net(det_models.train_inputs("FasterRCNN", samples, 3))["loss"].backward()

def export():
    net = det_models.BUILDERS["PPYOLOTiny"](3, "MobileNetV3")
    net.eval()
    static = paddle.jit.to_static(net, input_spec=det_models.input_spec("PPYOLOTiny"), full_graph=True)
    paddle.jit.save(static, os.path.join(sys.argv[1], "model"))

result = {}
for name, fn in (("rcnn_step", rcnn_step), ("export", export)):
    try:
        fn()
        result[name] = "ok"
    except Exception as e:
        result[name] = f"{type(e).__name__}: {e}"[-600:]
print("RESULT " + json.dumps(result))
"""


@pytest.fixture(scope="module")
def unshimmed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What the R-CNN train step and the PP-YOLO tiny export give without the shims."""
    out = str(tmp_path_factory.mktemp("unshimmed"))
    proc = subprocess.run([sys.executable, "-c", UNSHIMMED, out], capture_output=True, text=True, timeout=300,
                          cwd=REPO)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(lines[-1][len("RESULT "):])


def _tiny_samples() -> list[dict[str, Any]]:
    """The subprocess's two random 128 px samples."""
    rng = np.random.default_rng(0)
    return [{"image": rng.standard_normal((3, 128, 128)).astype("float32"), "gt_class": [0, 2],
             "gt_bbox": np.array([[10, 12, 60, 70], [70, 40, 120, 100]], "float32")} for _ in range(2)]


def test_rois_num_1d_shim(unshimmed: dict[str, str]) -> None:
    # paddledet concatenates 0-D proposal counts: "The axis is expected to be in range of [0, 0)".
    assert "axis is expected to be in range" in unshimmed["rcnn_step"], unshimmed["rcnn_step"]
    paddle.seed(0)
    net = det_models.build("FasterRCNN", NUM_CLASSES, "ResNet18")
    net.train()
    loss = net(det_models.train_inputs("FasterRCNN", _tiny_samples(), NUM_CLASSES))["loss"]
    loss.backward()
    assert math.isfinite(float(loss))


def test_pir_nms_shim(unshimmed: dict[str, str]) -> None:
    # paddledet's matrix_nms appends a legacy-IR op: "The type of '%BBoxes' in operator matrix_nms should be ...".
    # With the shim the same export works: test_every_model_exports_and_matches_dynamic (PPYOLOTiny).
    assert "operator matrix_nms" in unshimmed["export"], unshimmed["export"]


@pytest.mark.parametrize("model,backbone", ENGINE_COMBOS)
def test_every_model_exports_and_matches_dynamic(model: str, backbone: str, data: dict[str, list[dict[str, Any]]],
                                                 tmp_path: Any) -> None:
    """Traced whole, run in paddle.inference: the same boxes (and masks) as the dynamic network."""
    samples = data["instance" if model == "MaskRCNN" else "detection"]
    samples = samples[:1] if model in det_models.RCNN_FAMILY else samples  # R-CNN programs take one image
    paddle.seed(0)
    net = det_models.build(model, NUM_CLASSES, backbone)
    net.eval()
    inputs = det_models.eval_inputs(samples)
    with paddle.no_grad():
        dynamic = {k: v.numpy() for k, v in net(dict(inputs)).items()}
    prefix = str(tmp_path / "model")
    linecache.clearcache()  # save_inference re-enters the recompiled R-CNN functions' sources dy2static reads
    export.save_inference(net, det_models.input_spec(model), prefix)
    program = export.InferenceModel(prefix)
    outs = program.run({name: inputs[name].numpy() for name in program.inputs})
    bbox = next(o for o in outs if o.ndim == 2 and o.shape[1] == 6)
    bbox_num = next(o for o in outs if o.ndim == 1)
    assert len(dynamic["bbox"]) > 0
    np.testing.assert_array_equal(bbox_num, dynamic["bbox_num"])
    np.testing.assert_allclose(bbox, dynamic["bbox"], atol=1e-4, rtol=0)
    if model == "MaskRCNN":
        mask = next(o for o in outs if o.ndim == 3)
        assert mask.shape == dynamic["mask"].shape
        assert np.mean(mask != dynamic["mask"]) < 1e-3


def test_picodet_builds_twice_in_one_process() -> None:
    """paddledet's LCPAN appends to a mutable default list; the builder passes its own."""
    import paddle

    for _ in range(2):
        model = det_models.build("PicoDet", 3)
        model.eval()
        with paddle.no_grad():
            out = model(det_models.eval_inputs([{"image": np.zeros((3, 160, 160), np.float32)}]))
        assert out["bbox"].shape[1] == 6


def test_mask_rcnn_evaluates_a_batch_where_one_image_has_no_box(data: dict[str, list[dict[str, Any]]]) -> None:
    from pdxsrv.engine.detection import INSTANCE_KIND

    samples = data["instance"]
    paddle.seed(0)
    net = det_models.build("MaskRCNN", NUM_CLASSES, "ResNet18")
    net.eval()
    nms = net.bbox_post_process.nms
    nms.score_threshold = 0.0
    with paddle.no_grad():
        best = [float(net(det_models.eval_inputs([s]))["bbox"].numpy()[:, 1].max()) for s in samples]
    nms.score_threshold = (max(best) + min(best)) / 2  # one image keeps a box, the other none
    with paddle.no_grad():
        batch = net(det_models.eval_inputs(samples))  # paddledet pads the empty image with a row but no mask
        assert len(batch["bbox"]) == 2 and batch["mask"].shape[0] == 1
        found = INSTANCE_KIND.infer(net, samples)
    assert sorted(len(f["bbox"]) for f in found) == [0, 1], "the padding row is not a detection"
    assert all(len(f["mask"]) == len(f["bbox"]) for f in found)
