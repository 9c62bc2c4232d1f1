"""Generate -> import through the API (a real supervisor runs the job) -> split -> details, per type."""

from __future__ import annotations

import os

import pytest

from pdxsrv.client import ApiError, Client
from pdxsrv.datasets.synthetic import FORMATS, make
from pdxsrv.domain.enums import DatasetStatus
from tests.conftest import Server
from tests.supervisor_support import wait_for

CASES = [(kind, fmt, presplit) for kind, formats in FORMATS.items() for fmt in formats
         for presplit in ((False, True) if kind != "remote_segmentation" else (False,))]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("import")
    srv = Server(str(base / "ws"), "--allow-path", str(base), supervise=True)
    srv.base = base
    yield srv
    srv.stop()
    srv.shutdown_supervisor()


def imported(c: Client, did: str) -> dict:
    return wait_for(lambda: (d := c.dataset(did))["dataset_status"] not in (1, 3) and d, timeout=60, what="import")


@pytest.mark.parametrize("kind,fmt,presplit", CASES)
def test_generate_import_split_details(server: Server, kind: str, fmt: str, presplit: bool) -> None:
    c = Client(server.url)
    source = str(server.base / f"{kind}-{fmt}-{presplit}")
    manifest = make(kind, source, fmt=fmt, images=12, presplit=presplit)
    did = c.create_dataset(f"{kind} {fmt}", kind)["did"]
    c.import_dataset(did, source)
    answer = imported(c, did)
    expected = DatasetStatus.XSPLITED if presplit else DatasetStatus.XCOPYDONE
    assert answer["dataset_status"] == expected, answer["message"]
    details = c.dataset_details(did)["details"]
    assert details["labels"] == manifest.labels
    assert sorted(details["file_info"]) == sorted(manifest.images)
    if not presplit:
        c.split_dataset(did, 0.25, 0.1)
        assert c.dataset(did)["dataset_status"] == DatasetStatus.XSPLITED
        details = c.dataset_details(did)["details"]
        assert details["train_files"] and details["val_files"]
        again = c.dataset_details(did)["details"]
        assert again["val_files"] == details["val_files"]
    parts = details["train_files"] + details["val_files"] + details["test_files"]
    assert sorted(parts) == sorted(manifest.images)
    for image in manifest.images[:3]:
        assert os.path.exists(os.path.join(server.workspace, "datasets", did, image))
    from eventlog import read_records
    from pdxsrv.store import events_dir

    progress = [r.data["data"] for r in read_records(events_dir(server.workspace))
                if r.type == "job.reported" and r.data["subject"] == did and r.data["kind"] == "progress"]
    assert progress and progress[-1]["phase"] == "copying" and progress[-1]["done"] == progress[-1]["total"]


def _drop_xml(root: str) -> None:
    os.remove(os.path.join(root, "Annotations", "img_0003.xml"))


def _shrink_mask(root: str) -> None:
    import cv2

    path = os.path.join(root, "Annotations", "img_0002.png")
    cv2.imwrite(path, cv2.imread(path, cv2.IMREAD_UNCHANGED)[:40])


def _coco_missing_image(root: str) -> None:
    import json

    with open(os.path.join(root, "annotations.json")) as f:
        doc = json.load(f)
    doc["annotations"][0]["image_id"] = 999
    with open(os.path.join(root, "annotations.json"), "w") as f:
        json.dump(doc, f)


def _one_class(root: str) -> None:
    import shutil

    for name in os.listdir(root):
        if name != "circle":
            shutil.rmtree(os.path.join(root, name))


def _three_columns(root: str) -> None:
    with open(os.path.join(root, "val_list.txt"), "a") as f:
        f.write("JPEGImages/img_0001.jpg Annotations/img_0001.png extra\n")


def _loop(root: str) -> None:
    os.symlink("..", os.path.join(root, "circle", "loop"))


def _truncated(root: str) -> None:
    path = os.path.join(root, "square", "img_0001.jpg")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 3])


BROKEN = [
    ("detection", "voc", False, _drop_xml, "img_0003"),
    ("segmentation", "png", False, _shrink_mask, "img_0002.png"),
    ("instance_segmentation", "coco", False, _coco_missing_image, "annotations.json"),
    ("classification", "folders", False, _one_class, "class"),
    ("segmentation", "png", True, _three_columns, "val_list.txt"),
    ("classification", "folders", False, _loop, "loop"),
    ("classification", "folders", False, _truncated, "img_0001.jpg"),
]


@pytest.mark.parametrize("kind,fmt,presplit,breaks,named", BROKEN, ids=[b[3].__name__ for b in BROKEN])
def test_a_broken_dataset_fails_the_check_naming_the_file_and_leaves_nothing(
    server: Server, kind: str, fmt: str, presplit: bool, breaks, named: str
) -> None:
    c = Client(server.url)
    source = str(server.base / f"broken{breaks.__name__}")
    make(kind, source, fmt=fmt, images=10, presplit=presplit)
    breaks(source)
    did = c.create_dataset("broken", kind)["did"]
    c.import_dataset(did, source)
    answer = imported(c, did)
    assert answer["dataset_status"] == DatasetStatus.XCHECKFAIL
    assert named in answer["message"], answer["message"]
    assert not os.path.exists(os.path.join(server.workspace, "datasets", did))
    with pytest.raises(ApiError) as info:
        c.split_dataset(did, 0.2)
    assert info.value.code == "conflict"


def test_import_paths_are_confined(server: Server) -> None:
    c = Client(server.url)
    did = c.create_dataset("escape", "classification")["did"]
    outside = str(server.base / "link-out")
    os.symlink("/etc", outside)
    for path in ("/etc", str(server.base) + "/../", str(server.base).rstrip("/") + "2", outside):
        with pytest.raises(ApiError) as info:
            c.import_dataset(did, path)
        assert info.value.code == "path_not_allowed"


def decode_png(data: str) -> "np.ndarray":
    import base64

    import cv2
    import numpy as np

    return cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)


@pytest.mark.parametrize("kind,fmt", [(kind, fmt) for kind, formats in FORMATS.items() for fmt in formats])
def test_file_with_did_draws_the_labels(server: Server, kind: str, fmt: str) -> None:
    import cv2
    import numpy as np

    c = Client(server.url)
    source = str(server.base / f"vis-{kind}-{fmt}")
    manifest = make(kind, source, fmt=fmt, images=6, size=96)
    did = c.create_dataset(f"vis {kind}", kind)["did"]
    c.import_dataset(did, source)
    assert imported(c, did)["dataset_status"] == DatasetStatus.XCOPYDONE
    image = manifest.images[1]
    path = os.path.join(server.workspace, "datasets", did, image)
    drawn = decode_png(c.file(path, did=did)["img_data"])
    if kind == "remote_segmentation":  # the base picture is three stretched bands, not a decodable image
        from pdxsrv.datasets.visualize import _bands

        raw = _bands(path, (0, 1, 2))
    else:
        raw = decode_png(c.file(path)["img_data"])
    assert drawn is not None and drawn.shape[:2] == (96, 96)
    if kind in ("segmentation", "instance_segmentation", "remote_segmentation"):
        mask_source = os.path.join(source, "Annotations", os.path.splitext(os.path.basename(image))[0] + ".png")
        if os.path.exists(mask_source) and raw is not None:
            mask = cv2.imread(mask_source, cv2.IMREAD_UNCHANGED)
            labelled = (mask > 0) & (mask < 255)
            changed = np.abs(drawn.astype(int) - raw.astype(int)).sum(axis=2) > 30
            assert changed[labelled].mean() > 0.5 and changed[mask == 0].mean() < 0.05
        elif raw is not None:  # COCO masks: compare with the segmentation PNG of the same scene
            assert (np.abs(drawn.astype(int) - raw.astype(int)).sum(axis=2) > 30).mean() > 0.01
    elif raw is not None:
        assert (np.abs(drawn.astype(int) - raw.astype(int)).sum(axis=2) > 30).any(), "nothing drawn"
    if kind == "remote_segmentation":
        other = decode_png(c.call("GET", "/file", path=path, did=did, bands=[3, 2, 1])["img_data"])
        assert (other != drawn).any(), "other bands, another picture"
        with pytest.raises(ApiError):
            c.call("GET", "/file", path=path, did=did, bands=[0, 1, 9])
    with pytest.raises(ApiError) as info:
        c.file(os.path.join(server.workspace, ".pdxsrv", "events", "LOCK"), did=did)
    assert info.value.code in ("invalid_argument", "not_found")


def test_deleting_a_dataset_during_its_import_stops_the_job_and_leaves_nothing(server: Server) -> None:
    c = Client(server.url)
    source = str(server.base / "big")
    make("classification", source, fmt="folders", images=1500, size=64)
    did = c.create_dataset("big", "classification")["did"]
    c.import_dataset(did, source)
    wait_for(lambda: c.dataset(did)["dataset_status"] in (1, 3), what="the import to run")
    c.delete_dataset(did)
    with pytest.raises(ApiError):
        c.dataset(did)
    datasets = os.path.join(server.workspace, "datasets")
    assert not [n for n in (os.listdir(datasets) if os.path.isdir(datasets) else []) if n.startswith(did)]
    from eventlog import read_records
    from pdxsrv.store import events_dir

    ended = [r.data["state"] for r in read_records(events_dir(server.workspace))
             if r.type == "job.state_changed" and r.data["subject"] == did]
    assert ended[-1] in ("killed", "exited", "failed"), ended


def test_the_split_is_the_same_after_a_restart_and_a_replay(server: Server, tmp_path) -> None:
    from pdxsrv.datasets import details as dataset_details
    from tests.conftest import pdxsrv

    c = Client(server.url)
    source = str(server.base / "seeded")
    make("classification", source, fmt="folders", images=30)
    did = c.create_dataset("seeded", "classification")["did"]
    c.import_dataset(did, source)
    imported(c, did)
    c.call("PUT", "/dataset/split", did=did, val_split=0.2, test_split=0.1, seed=77)
    before = c.dataset_details(did)["details"]
    replayed = str(tmp_path / "replayed")
    assert pdxsrv("events", "replay", "--workspace", server.workspace, "--until", "999999", "--to", replayed).returncode == 0
    from eventlog import read_records
    from pdxsrv.domain.apply import fold
    from pdxsrv.store import events_dir

    state = fold(read_records(events_dir(replayed)))
    s = state.datasets[did].split
    found = dataset_details.load(os.path.join(server.workspace, "datasets", did))
    parts = dataset_details.split_lists(found, "classification", s["val_split"], s["test_split"], s["seed"])
    assert (parts["train"], parts["val"], parts["test"]) == (before["train_files"], before["val_files"],
                                                             before["test_files"])
    c.split_dataset(did, 0.2, 0.1)  # another seed (the default): another split
    assert c.dataset_details(did)["details"]["val_files"] != before["val_files"]


def test_recommended_params_for_a_project_on_a_split_dataset(server: Server) -> None:
    c = Client(server.url)
    source = str(server.base / "for-params")
    make("classification", source, fmt="folders", images=40, classes=4)
    did = c.create_dataset("for params", "classification")["did"]
    c.import_dataset(did, source)
    imported(c, did)
    c.split_dataset(did, 0.25)
    pid = c.create_project("p", "classification")["pid"]
    c.set_attributes("project", pid, {"did": did})
    answer = c.recommended_params(pid)  # no weights offline: the from-scratch recipe, sized to the 64 px images
    train = answer["train"]
    assert answer["recipe"] == "from_scratch" and train["pretrain_weights"] is None
    assert (train["model"], train["cuda_visible_devices"], train["image_shape"]) == ("ResNet18", "", [64, 64])
    assert train["batch_size"] == 4 and train["num_epochs"] >= 30 and train["optimizer"] == "Adam"
    mobile = c.recommended_params(pid, model_type="MobileNetV2")["train"]
    assert mobile["model"] == "MobileNetV2" and mobile["learning_rate"] == train["learning_rate"]
