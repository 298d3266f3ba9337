"""The object store behaves the same on both backends: a local directory and S3 (moto's server over HTTP)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from s3_server import Bucket
from shared_helpers import SettingsOverride

from saas_app.services.core.storage import Area, LocalStore, ObjectStore, StorageUnavailable, get_store


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, app_settings: SettingsOverride, tmp_path: Path) -> str:
    """Each test runs on a local directory, then on a bucket of its own."""
    app_settings.set(STORAGE_DIR=tmp_path / "storage", EXPORT_DIR=tmp_path / "exports")
    if request.param == "s3":
        request.getfixturevalue("s3_bucket")
    return str(request.param)


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "made" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _read(store: ObjectStore, key: str) -> bytes:
    with store.open(key=key) as source:
        return source.read()


def test_a_stored_file_can_be_measured_read_replaced_and_deleted(backend: str, tmp_path: Path) -> None:
    store = get_store(Area.RENDERS)
    source = _file(tmp_path, "video.mp4", b"first version")
    store.put(key="t1/renders/r1/video.mp4", source=source, media_type="video/mp4")
    assert source.read_bytes() == b"first version"  # a copy, unless the caller lets it go
    assert store.size(key="t1/renders/r1/video.mp4") == len(b"first version")
    assert _read(store, "t1/renders/r1/video.mp4") == b"first version"

    store.put(key="t1/renders/r1/video.mp4", source=_file(tmp_path, "v2", b"second"), media_type="video/mp4")
    assert _read(store, "t1/renders/r1/video.mp4") == b"second"

    store.delete(key="t1/renders/r1/video.mp4")
    store.delete(key="t1/renders/r1/video.mp4")  # again: nothing to do
    assert store.size(key="t1/renders/r1/video.mp4") is None
    with pytest.raises(FileNotFoundError):
        _read(store, "t1/renders/r1/video.mp4")
    assert store.download(key="t1/renders/r1/video.mp4", media_type="video/mp4", filename="x.mp4") is None


def test_a_moved_file_leaves_the_local_disk(backend: str, tmp_path: Path) -> None:
    store = get_store(Area.EXPORTS)
    source = _file(tmp_path, "export.zip", b"PK zip")
    store.put(key="export-abc.zip", source=source, media_type="application/zip", move=True)
    assert not source.exists()
    assert _read(store, "export-abc.zip") == b"PK zip"


def test_deleting_a_folder_spares_its_neighbours(backend: str, tmp_path: Path) -> None:
    store = get_store(Area.RENDERS)
    for key in ("t1/renders/r1/video.mp4", "t1/renders/r1/thumb.jpg", "t1/renders/r10/video.mp4",
                "t2/renders/r1/video.mp4"):
        store.put(key=key, source=_file(tmp_path, "f", key.encode()), media_type="video/mp4")
    store.delete_prefix(prefix="t1/renders/r1/")
    assert store.size(key="t1/renders/r1/video.mp4") is None and store.size(key="t1/renders/r1/thumb.jpg") is None
    assert store.size(key="t1/renders/r10/video.mp4") is not None  # same beginning, another folder
    store.delete_prefix(prefix="t1/")
    assert store.size(key="t1/renders/r10/video.mp4") is None
    assert _read(store, "t2/renders/r1/video.mp4") == b"t2/renders/r1/video.mp4"
    store.delete_prefix(prefix="t9/")  # nothing there: nothing to do


@pytest.mark.parametrize("key", ["", "/etc/passwd", "t1/../../x", "./x", "t1\\x"])
def test_keys_cannot_leave_the_store(backend: str, key: str, tmp_path: Path) -> None:
    store = get_store(Area.RENDERS)
    with pytest.raises(ValueError, match="not a storage key"):
        store.put(key=key, source=_file(tmp_path, "f", b"x"), media_type="text/plain")


def test_the_local_backend_keeps_render_files_in_storage_dir_and_exports_in_export_dir(
        app_settings: SettingsOverride, tmp_path: Path) -> None:
    app_settings.set(STORAGE_DIR=tmp_path / "storage", EXPORT_DIR=tmp_path / "exports")
    renders, exports = get_store(Area.RENDERS), get_store(Area.EXPORTS)
    assert isinstance(renders, LocalStore) and renders.local_root == tmp_path / "storage"
    assert isinstance(exports, LocalStore) and exports.local_root == tmp_path / "exports"
    made_in_place = tmp_path / "storage" / "t1" / "renders" / "r1" / "video.mp4"
    made_in_place.parent.mkdir(parents=True)
    made_in_place.write_bytes(b"made here")
    renders.put(key="t1/renders/r1/video.mp4", source=made_in_place, media_type="video/mp4")  # already there
    download = renders.download(key="t1/renders/r1/video.mp4", media_type="video/mp4", filename="r1-video.mp4")
    assert download is not None and download.path == made_in_place and download.url is None


def test_s3_downloads_are_presigned_urls_that_serve_the_file_as_a_named_download(
        s3_bucket: Bucket, tmp_path: Path) -> None:
    store = get_store(Area.RENDERS)
    store.put(key="t1/renders/r1/video.mp4", source=_file(tmp_path, "v", b"0123456789" * 100), media_type="video/mp4")
    assert s3_bucket.list_keys() == ["t1/renders/r1/video.mp4"]

    download = store.download(key="t1/renders/r1/video.mp4", media_type="video/mp4", filename="r1-video.mp4")
    assert download is not None and download.path is None and download.url is not None
    assert download.url.startswith(f"{s3_bucket.server.url}/{s3_bucket.name}/t1/renders/r1/video.mp4?")
    assert "X-Amz-Signature=" in download.url and "X-Amz-Expires=3600" in download.url
    answer = httpx.get(download.url)
    assert answer.status_code == 200 and answer.content == b"0123456789" * 100
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["content-disposition"] == 'attachment; filename="r1-video.mp4"'
    part = httpx.get(download.url, headers={"Range": "bytes=10-19"})  # seeking in a player
    assert part.status_code == 206 and part.content == b"0123456789"

    inline = store.download(key="t1/renders/r1/video.mp4", media_type="video/mp4", filename=None)
    assert inline is not None and inline.url is not None
    assert "content-disposition" not in httpx.get(inline.url).headers


def test_s3_exports_live_under_their_own_prefix(s3_bucket: Bucket, tmp_path: Path) -> None:
    get_store(Area.EXPORTS).put(key="export-1.zip", source=_file(tmp_path, "z", b"PK"), media_type="application/zip")
    assert s3_bucket.list_keys() == ["exports/export-1.zip"]


def test_presigned_urls_name_the_public_endpoint_and_last_the_set_time(
        s3_bucket: Bucket, app_settings: SettingsOverride, tmp_path: Path) -> None:
    app_settings.set(S3_PUBLIC_ENDPOINT_URL="https://files.example.com", S3_PRESIGN_TTL_SECONDS=120)
    store = get_store(Area.RENDERS)
    store.put(key="t1/renders/r1/thumb.jpg", source=_file(tmp_path, "t", b"jpg"), media_type="image/jpeg")
    download = store.download(key="t1/renders/r1/thumb.jpg", media_type="image/jpeg", filename=None)
    assert download is not None and download.url is not None
    assert download.url.startswith(f"https://files.example.com/{s3_bucket.name}/t1/renders/r1/thumb.jpg?")
    assert "X-Amz-Expires=120" in download.url


def test_an_unreachable_store_is_reported_as_unavailable(
        s3_bucket: Bucket, app_settings: SettingsOverride, tmp_path: Path) -> None:
    app_settings.set(S3_ENDPOINT_URL="http://127.0.0.1:1")
    store = get_store(Area.RENDERS)
    with pytest.raises(StorageUnavailable) as refused:
        store.put(key="t1/x", source=_file(tmp_path, "x", b"x"), media_type="text/plain")
    assert refused.value.status_code == 503 and "briefly unavailable" in refused.value.message
    for call in (lambda: store.size(key="t1/x"), lambda: store.delete(key="t1/x"),
                 lambda: store.delete_prefix(prefix="t1/"), lambda: store.open(key="t1/x"),
                 lambda: store.download(key="t1/x", media_type="text/plain", filename=None)):
        with pytest.raises(StorageUnavailable):
            call()


def test_a_missing_bucket_is_reported_as_unavailable(s3_bucket: Bucket, app_settings: SettingsOverride,
                                                      tmp_path: Path) -> None:
    app_settings.set(S3_BUCKET="no-such-bucket-here")
    with pytest.raises(StorageUnavailable):
        get_store(Area.RENDERS).put(key="t1/x", source=_file(tmp_path, "x", b"x"), media_type="text/plain")
