"""The weights cache and `pdxsrv weights` against weight files generated from our networks and served on 127.0.0.1:
progress, resume, checksums (mirror sidecar, paddle.vision md5), reuse, locking, offline and unreachable messages."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
from typing import Any, Iterator

import pytest

from pdxsrv.weights import ChecksumMismatch, WeightsConfig, WeightsUnavailable, fetch, lookup, status
from tests.conftest import free_port, pdxsrv
from tests.http_mirror import HttpMirror

FAST = lookup("FastSCNN", "CITYSCAPES")  # a whole-model file, no published checksum
LITE = lookup("PPLiteSeg", "IMAGENET")  # a backbone archive (prefix "backbone.")
SMALL = lookup("MobileNetV3_small", "IMAGENET")  # paddle.vision: a published md5


def _saved(state: dict[str, Any]) -> bytes:
    import paddle

    buffer = io.BytesIO()
    paddle.save(state, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    """Generated weight files with our networks' names and shapes, keyed by the entry's mirror file name."""
    import paddle.vision.models as vision

    from pdxsrv.engine import seg_models

    lite = seg_models.build("PPLiteSeg", 19, 3, {})
    pdparams = _saved(lite.backbone.state_dict())
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("PP_STDCNet1/model.pdparams")
        info.size = len(pdparams)
        tar.addfile(info, io.BytesIO(pdparams))
    return {FAST.mirror_name: _saved(seg_models.build("FastSCNN", 19, 3, {}).state_dict()),
            LITE.mirror_name: archive.getvalue(), "lite.pdparams": pdparams,
            SMALL.mirror_name: _saved(vision.mobilenet_v3_small().state_dict())}


@pytest.fixture()
def mirror() -> Iterator[HttpMirror]:
    srv = HttpMirror("weights")
    yield srv
    srv.close()


def test_download_with_progress_then_reuse_without_asking(mirror: HttpMirror, files: dict[str, bytes],
                                                          tmp_path: Any) -> None:
    body = files[FAST.mirror_name]
    mirror.publish(FAST.mirror_name, body)
    seen: list[tuple[int, int]] = []
    got = fetch("FastSCNN", "CITYSCAPES", weights_dir=str(tmp_path), mirror=mirror.url,
                progress=lambda done, total: seen.append((done, total)))
    assert got.path == os.path.join(tmp_path, "FastSCNN_CITYSCAPES.pdparams") and got.downloaded
    assert mirror.requests == [(FAST.mirror_name + ".sha256", None), (FAST.mirror_name, None)]
    assert len(seen) > 3 and seen[-1] == (len(body), len(body))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and {t for _, t in seen} == {len(body)}
    with open(got, "rb") as f:
        assert f.read() == body
    sha = hashlib.sha256(body).hexdigest()
    assert got.sha256 == sha and got.checked == f"its sha256 {sha} from {mirror.url}/{FAST.mirror_name}.sha256"
    assert sorted(os.listdir(tmp_path)) == [".locks", FAST.file, FAST.file + ".json"]

    mirror.requests.clear()
    again = fetch("FastSCNN", "cityscapes", weights_dir=str(tmp_path), mirror=mirror.url)
    assert (again.path, again.downloaded, again.sha256) == (got.path, False, sha)
    assert WeightsConfig(str(tmp_path), offline=True).fetch("FastSCNN", "CITYSCAPES").path == got.path
    assert mirror.requests == []  # the cache answered: nothing was asked of any server
    row = next(r for r in status(str(tmp_path)) if r.entry == FAST)
    assert (row.cached, row.size, row.path) == (True, len(body), got.path)


def test_a_broken_transfer_resumes_with_a_range_request(mirror: HttpMirror, files: dict[str, bytes],
                                                        tmp_path: Any) -> None:
    body = files[FAST.mirror_name]
    mirror.files[FAST.mirror_name] = body  # no sidecar: accepted, and its SHA-256 recorded
    mirror.break_after[FAST.mirror_name] = 1 << 20
    got = fetch("FastSCNN", "CITYSCAPES", weights_dir=str(tmp_path), mirror=mirror.url)
    assert mirror.requests[1:] == [(FAST.mirror_name, None), (FAST.mirror_name, f"bytes={1 << 20}-")]
    with open(got, "rb") as f:
        assert f.read() == body
    assert "no published checksum" in got.checked and hashlib.sha256(body).hexdigest() in got.checked
    with open(got.path + ".json") as f:
        assert json.load(f)["sha256"] == hashlib.sha256(body).hexdigest()

    # a part left by an earlier (killed) fetch is resumed too
    os.remove(got.path)
    with open(os.path.join(tmp_path, FAST.file + ".part"), "wb") as f:
        f.write(body[:12345])
    mirror.requests.clear()
    fetch("FastSCNN", "CITYSCAPES", weights_dir=str(tmp_path), mirror=mirror.url)
    assert mirror.requests[1:] == [(FAST.mirror_name, "bytes=12345-")]


def test_a_checksum_mismatch_places_nothing(mirror: HttpMirror, files: dict[str, bytes], tmp_path: Any) -> None:
    body = files[FAST.mirror_name]
    mirror.publish(FAST.mirror_name, body, digest="0" * 64)
    with pytest.raises(ChecksumMismatch) as refused:
        fetch("FastSCNN", "CITYSCAPES", weights_dir=str(tmp_path), mirror=mirror.url)
    message = str(refused.value)
    assert "does not match the mirror's sha256 (expected " + "0" * 64 in message
    assert f"got {hashlib.sha256(body).hexdigest()}" in message and "nothing was placed" in message
    assert (refused.value.expected, refused.value.got) == ("0" * 64, hashlib.sha256(body).hexdigest())
    assert os.listdir(tmp_path) == [".locks"]  # no file, no .part, no record


def test_a_published_md5_refuses_a_file_that_differs(mirror: HttpMirror, files: dict[str, bytes],
                                                     tmp_path: Any) -> None:
    body = files[SMALL.mirror_name]  # the right names and shapes, but not PaddlePaddle's bytes
    mirror.publish(SMALL.mirror_name, body)  # a true sidecar does not help: the table's md5 comes first
    with pytest.raises(ChecksumMismatch) as refused:
        WeightsConfig(str(tmp_path), mirror.url).fetch("MobileNetV3_small_ssld", "IMAGENET")
    md5 = hashlib.md5(body).hexdigest()
    assert (refused.value.expected, refused.value.got) == ("34fe0e7c1f8b00b2b056ad6788d0590c", md5)
    assert f"does not match PaddlePaddle's published md5 (expected 34fe0e7c1f8b00b2b056ad6788d0590c, got {md5})" \
        in str(refused.value)
    assert mirror.requests == [("MobileNetV3_small_IMAGENET.pdparams", None)]  # no sidecar asked for
    assert os.listdir(tmp_path) == [".locks"]

    # the same bytes put there by hand are refused too, and left for their owner
    path = os.path.join(tmp_path, SMALL.file)
    with open(path, "wb") as f:
        f.write(body)
    with pytest.raises(ChecksumMismatch, match=f"its md5 is {md5}, PaddlePaddle publishes 34fe0e7c"):
        WeightsConfig(str(tmp_path), offline=True).fetch("MobileNetV3_small", "IMAGENET")
    assert os.path.isfile(path)


def test_an_archive_places_its_model_pdparams(mirror: HttpMirror, files: dict[str, bytes], tmp_path: Any) -> None:
    mirror.publish(LITE.mirror_name, files[LITE.mirror_name])
    got = fetch("PPLiteSeg", "IMAGENET", weights_dir=str(tmp_path), mirror=mirror.url)
    assert (LITE.mirror_name, got.path) == ("PPLiteSeg_IMAGENET.tar.gz", os.path.join(tmp_path, LITE.file))
    with open(got, "rb") as f:
        assert f.read() == files["lite.pdparams"]
    assert sorted(os.listdir(tmp_path)) == [".locks", LITE.file, LITE.file + ".json"]  # the archive is gone
    assert got.sha256 == hashlib.sha256(files["lite.pdparams"]).hexdigest() and "the archive's sha256" in got.checked

    import paddle

    from pdxsrv.engine import seg_models

    ours = {k: list(v.shape) for k, v in seg_models.build("PPLiteSeg", 2, 3, {}).state_dict().items()}
    loaded = paddle.load(got.path)
    assert {LITE.target(k): list(v.shape) for k, v in loaded.items()}.items() <= ours.items()


def test_two_fetches_at_once_download_once(mirror: HttpMirror, files: dict[str, bytes], tmp_path: Any) -> None:
    mirror.publish(FAST.mirror_name, files[FAST.mirror_name])
    mirror.slow = 0.02
    results: list[Any] = []

    def one() -> None:
        results.append(fetch("FastSCNN", "CITYSCAPES", weights_dir=str(tmp_path), mirror=mirror.url))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(r.downloaded for r in results) == [False, True]
    assert mirror.hits(FAST.mirror_name) == 1


def test_offline_and_unreachable_say_where_to_put_the_file(mirror: HttpMirror, tmp_path: Any) -> None:
    path = os.path.join(tmp_path, "DeepLabV3P_ResNet50_vd_IMAGENET.pdparams")
    with pytest.raises(WeightsUnavailable) as refused:
        WeightsConfig(str(tmp_path), offline=True).fetch("DeepLabV3P", "IMAGENET")
    message = str(refused.value)
    assert "not in the cache and pdxsrv runs --offline" in message
    assert f"Put model.pdparams from the archive https://bj.bcebos.com/paddleseg/dygraph/resnet50_vd_ssld_v2.tar.gz " \
           f"at {path} by hand" in message
    assert "serve DeepLabV3P_ResNet50_vd_IMAGENET.tar.gz" in message and "--weights-mirror URL" in message
    assert refused.value.path == path and mirror.requests == []

    nowhere = f"http://127.0.0.1:{free_port()}/weights"
    with pytest.raises(WeightsUnavailable) as refused:
        fetch("YOLOv3", "COCO", "DarkNet53", weights_dir=str(tmp_path), mirror=nowhere)
    message = str(refused.value)
    assert f"{nowhere}/YOLOv3_DarkNet53_COCO.pdparams.sha256 cannot be reached" in message
    assert f"at {os.path.join(tmp_path, 'YOLOv3_DarkNet53_COCO.pdparams')} by hand" in message
    assert "https://paddledet.bj.bcebos.com/models/yolov3_darknet53_270e_coco.pdparams" in message

    with pytest.raises(WeightsUnavailable, match="answered HTTP 404"):  # a mirror without the file
        fetch("YOLOv3", "COCO", "DarkNet53", weights_dir=str(tmp_path), mirror=mirror.url)
    assert os.listdir(tmp_path) == [".locks"]


def test_cli_list_and_pull(mirror: HttpMirror, files: dict[str, bytes], tmp_path: Any) -> None:
    mirror.publish(FAST.mirror_name, files[FAST.mirror_name])
    folder = str(tmp_path / "cache")
    to = ("--weights-dir", folder, "--weights-mirror", mirror.url)
    pulled = pdxsrv("weights", "pull", "FastSCNN", "CITYSCAPES", *to)
    assert pulled.returncode == 0, pulled.stderr
    assert f"downloading {FAST.file}: " in pulled.stderr and "(100%)" in pulled.stderr
    assert pulled.stdout.startswith(f"{os.path.join(folder, FAST.file)}: downloaded")
    again = pdxsrv("weights", "pull", "fastscnn", "cityscapes", "--weights-dir", folder)
    assert again.returncode == 0 and "already cached" in again.stdout

    listed = pdxsrv("weights", "list", "--json", "--weights-dir", folder)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == len(status(folder)) and sum(r["cached"] for r in rows) == 1
    row = next(r for r in rows if r["cached"])
    assert (row["model"], row["keyword"], row["size"], row["mirror_name"]) == (
        "FastSCNN", "CITYSCAPES", len(files[FAST.mirror_name]), FAST.mirror_name)
    resnet = next(r for r in rows if r["model"] == "ResNet18")
    assert resnet["checksum"] == "md5 cf548f46534aa3560945be4b95cd11c4"
    assert resnet["url"] == "https://paddle-hapi.bj.bcebos.com/models/resnet18.pdparams"
    text = pdxsrv("weights", "list", "--weights-dir", folder).stdout
    assert f"weights cache: {folder}" in text and "YOLOv3_DarkNet53_COCO.pdparams" in text

    failed = pdxsrv("weights", "pull", "UNet", "COCO", "--weights-dir", folder)
    assert failed.returncode == 1 and "there are no COCO weights for UNet" in failed.stderr
    failed = pdxsrv("weights", "pull", "BiSeNetV2", "CITYSCAPES", *to)
    assert failed.returncode == 1 and "answered HTTP 404" in failed.stderr and "--weights-mirror URL" in failed.stderr
    bad = pdxsrv("weights", "pull", "BiSeNetV2", "CITYSCAPES", "--weights-mirror", "ftp://x")
    assert bad.returncode == 2 and "is not an http:// or https:// URL" in bad.stderr
