"""Paths used as confined, weights loaded without pickle code, wrong-type imports refused (issue 17: 5, 12).

Real servers and real import jobs; the restricted unpickler and the copy are exercised on real files.
"""

from __future__ import annotations

import os
import pickle
import shutil
from typing import Iterator

import pytest

from pdxsrv.client import ApiError, Client
from pdxsrv.datasets import layout
from pdxsrv.datasets.copying import copy_dataset
from pdxsrv.datasets.scan import DatasetError
from pdxsrv.datasets.synthetic import make
from pdxsrv.domain.enums import DatasetStatus
from pdxsrv.paths import PathRefused
from pdxsrv.weights import safe_load
from tests.conftest import Server
from tests.supervisor_support import wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("hardening")
    allowed, outside = base / "allowed", base / "outside"
    allowed.mkdir()
    outside.mkdir()
    srv = Server(str(base / "ws"), "--allow-path", str(allowed), supervise=True)
    srv.allowed, srv.outside = str(allowed), str(outside)
    yield srv
    srv.stop()
    srv.shutdown_supervisor()


def imported(c: Client, did: str) -> dict:
    return wait_for(lambda: (d := c.dataset(did))["dataset_status"] not in (1, 3) and d, timeout=60, what="import")


# --- the import copies the real path the server confined ---------------------------------------------------------

def test_a_source_swapped_for_a_link_after_the_answer_imports_nothing_from_outside(server: Server) -> None:
    c = Client(server.url)
    source = os.path.join(server.allowed, "swapped")
    make("classification", source, images=6)
    secret = os.path.join(server.outside, "secret-images")
    make("classification", secret, images=12, seed=7)
    did = c.create_dataset("swapped", "classification")["did"]
    c.import_dataset(did, source)  # confined and accepted: then the folder becomes a link out
    os.rename(source, source + ".was")
    os.symlink(secret, source)
    answer = imported(c, did)
    assert answer["dataset_status"] == DatasetStatus.XCHECKFAIL, answer
    assert source in answer["message"] and "symbolic link" in answer["message"], answer["message"]
    assert not os.path.exists(os.path.join(server.workspace, "datasets", did))


def test_a_link_out_met_during_the_copy_stops_it_naming_the_link(tmp_path) -> None:
    source, outside = tmp_path / "src", tmp_path / "outside"
    make("classification", str(source), images=6)
    make("classification", str(outside), images=6, seed=3)
    files = sorted(os.path.relpath(os.path.join(d, f), source) for d, _, fs in os.walk(source) for f in fs)
    # After the reader checked the folder, a class folder is swapped for a link to another one, outside.
    victim = files[0].split("/")[0]
    shutil.rmtree(source / victim)
    os.symlink(outside / victim, source / victim)
    with pytest.raises(PathRefused) as info:
        copy_dataset(str(source), str(tmp_path / "D0001"), files)
    assert f"{source / victim} -> {outside / victim}" in str(info.value)
    assert sorted(os.listdir(tmp_path)) == ["outside", "src"]  # nothing half-copied


def test_a_link_inside_the_dataset_is_still_copied(tmp_path) -> None:
    source = tmp_path / "src"
    make("classification", str(source), images=6)
    files = sorted(os.path.relpath(os.path.join(d, f), source) for d, _, fs in os.walk(source) for f in fs)
    os.remove(source / files[0])
    os.symlink(source / files[1], source / files[0])
    assert copy_dataset(str(source), str(tmp_path / "D0001"), files) == "hardlink"
    assert (tmp_path / "D0001" / files[0]).read_bytes() == (source / files[1]).read_bytes()


# --- import type check --------------------------------------------------------------------------------------------

def test_a_segmentation_folder_imported_as_classification_is_refused_naming_segmentation(server: Server) -> None:
    c = Client(server.url)
    source = os.path.join(server.allowed, "seg-as-cls")
    make("segmentation", source, images=6)
    did = c.create_dataset("wrong type", "classification")["did"]
    c.import_dataset(did, source)
    answer = imported(c, did)
    assert answer["dataset_status"] == DatasetStatus.XCHECKFAIL, answer
    assert "looks like a segmentation dataset" in answer["message"], answer["message"]
    assert "'segmentation'" in answer["message"]
    assert not os.path.exists(os.path.join(server.workspace, "datasets", did))


CROSS = [  # (generated kind, format, imported as, the type named in the refusal)
    ("detection", "voc", "classification", "detection"),
    ("detection", "voc", "segmentation", "detection"),
    ("detection", "voc", "instance_segmentation", "detection"),
    ("detection", "coco", "classification", "detection or instance segmentation"),
    ("instance_segmentation", "coco", "segmentation", "detection or instance segmentation"),
    ("segmentation", "png", "classification", "segmentation"),
    ("segmentation", "png", "detection", "segmentation"),
    ("classification", "folders", "detection", "classification"),
    ("classification", "folders", "segmentation", "classification"),
    ("classification", "folders", "remote_segmentation", "classification"),
    ("remote_segmentation", "tif", "classification", "remote sensing segmentation"),
    ("remote_segmentation", "tif", "segmentation", "remote sensing segmentation"),
    ("remote_segmentation", "npy", "detection", "remote sensing segmentation"),
]


@pytest.mark.parametrize("kind,fmt,wanted,named", CROSS, ids=[f"{k}-{f}-as-{w}" for k, f, w, _ in CROSS])
def test_another_types_layout_is_refused_with_that_type(tmp_path, kind: str, fmt: str, wanted: str, named: str) -> None:
    for presplit in (False, True) if kind != "remote_segmentation" else (False,):
        root = str(tmp_path / f"{kind}-{presplit}")
        make(kind, root, fmt=fmt, images=6, presplit=presplit)
        with pytest.raises(DatasetError) as info:
            layout.check(root, wanted)
        assert f"looks like a {named} dataset" in str(info.value), str(info.value)


@pytest.mark.parametrize("kind,fmt,wanted", [
    ("detection", "coco", "instance_segmentation"), ("instance_segmentation", "coco", "detection"),
    ("segmentation", "png", "remote_segmentation"),
])
def test_layouts_two_types_read_are_accepted_by_both(tmp_path, kind: str, fmt: str, wanted: str) -> None:
    root = str(tmp_path / "data")
    make(kind, root, fmt=fmt, images=6)
    layout.check(root, wanted)
    layout.check(root, kind)


# --- weights are never unpickled with code ------------------------------------------------------------------------

class _Hostile:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_hostile_weights_file_is_refused_naming_the_global_and_runs_nothing(tmp_path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "model.pdparams"
    path.write_bytes(pickle.dumps({"conv.weight": _Hostile(str(marker))}))
    with pytest.raises(safe_load.UnsafeWeights) as info:
        safe_load.load(str(path))
    assert "system" in str(info.value) and "nothing in the file was run" in str(info.value)
    assert not marker.exists()
    for payload in (pickle.dumps(eval), pickle.dumps(_Hostile), b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00."):
        path.write_bytes(payload)
        with pytest.raises(safe_load.UnsafeWeights):
            safe_load.load(str(path))


def test_a_weights_file_reached_through_a_link_out_is_refused(tmp_path) -> None:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    import numpy as np

    (outside / "model.pdparams").write_bytes(pickle.dumps({"w": np.ones(3, np.float32)}))
    os.symlink(outside / "model.pdparams", allowed / "model.pdparams")
    with pytest.raises(safe_load.UnsafeWeights) as info:
        safe_load.load(str(allowed / "model.pdparams"), (str(allowed),))
    assert str(outside / "model.pdparams") in str(info.value)
    assert list(safe_load.load(str(allowed / "model.pdparams"))) == ["w"]  # no roots: the cache's own files


# --- pretrained-model registration ------------------------------------------------------------------------------

def _task(c: Client) -> tuple[str, str]:
    did = c.create_dataset("for models", "classification")["did"]
    pid = c.create_project("models", "classification")["pid"]
    c.set_attributes("project", pid, {"did": did})
    return pid, c.create_task(pid, {"model": "MobileNetV3_small"})["tid"]


def test_registering_a_model_whose_weights_link_outside_is_refused_naming_the_link(server: Server) -> None:
    c = Client(server.url)
    pid, tid = _task(c)
    source = os.path.join(server.allowed, "linked-model")
    os.makedirs(source)
    real = os.path.join(server.outside, "model.pdparams")
    with open(real, "wb") as f:
        pickle.dump({}, f)
    os.symlink(real, os.path.join(source, "model.pdparams"))
    with pytest.raises(ApiError) as info:
        c.save_pretrained(pid, tid, "linked", source_path=source)
    assert info.value.code == "path_not_allowed"
    assert f"{source}/model.pdparams -> {real}" in info.value.message, info.value.message
    assert not [m for m in c.call("GET", "/model", type="pretrained")["pretrained_models"] if m["name"] == "linked"]
    pretrain = os.path.join(server.workspace, "pretrain")
    assert not [n for n in (os.listdir(pretrain) if os.path.isdir(pretrain) else []) if n.startswith(".incoming")]


def test_a_registered_model_is_a_copy_of_files_never_links(server: Server) -> None:
    c = Client(server.url)
    pid, tid = _task(c)
    source = os.path.join(server.allowed, "inner-linked-model")
    os.makedirs(source)
    with open(os.path.join(source, "weights.bin"), "wb") as f:
        pickle.dump({}, f)
    os.symlink(os.path.join(source, "weights.bin"), os.path.join(source, "model.pdparams"))
    pmid = c.save_pretrained(pid, tid, "inner", source_path=source)["pmid"]
    copy = os.path.join(server.workspace, "pretrain", pmid, "model.pdparams")
    assert os.path.isfile(copy) and not os.path.islink(copy)


# --- arguments that were accepted and ignored --------------------------------------------------------------------

def test_predict_save_dir_and_export_model_path_are_refused_not_ignored(server: Server) -> None:
    c = Client(server.url)
    _, tid = _task(c)
    with pytest.raises(ApiError) as info:
        c.call("POST", "/project/task/predict", tid=tid, img_list=[], save_dir=server.allowed)
    assert info.value.code == "invalid_argument" and "save_dir" in info.value.message
    with pytest.raises(ApiError) as info:
        c.export(tid, "infer", os.path.join(server.allowed, "out"), model_path=server.allowed)
    assert info.value.code == "invalid_argument" and "model_path" in info.value.message
