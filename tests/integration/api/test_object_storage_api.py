"""With STORAGE_BACKEND=s3 (moto's S3 server over HTTP): renders and exports keep their files in the
bucket, nothing on the app's disk, and every download is a redirect to a presigned URL that serves
the file under the name a browser saves it as. Deleting a render or a whole tenant empties the bucket.

Renders run in this process (`run_render_now`, what the RQ job does); the export job too.
"""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from factories import finished_render, ledger_totals, sign_in_headers, submit_render
from fastapi.testclient import TestClient
from s3_server import Bucket
from shared_helpers import SettingsOverride
from sqlmodel import Session

from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.jobs.account import build_export_job
from saas_app.models import DataExport, Render, utcnow
from saas_app.services.account.deletion import purge_tenant
from saas_app.services.account.exports import delete_expired_exports
from saas_app.services.renders.files import drop_abandoned_work_folders, render_dir
from saas_app.services.renders.steps.registry import STEPS, kept_files
from saas_app.services.usage.metering import storage_mb

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("account_dirs")]

ALICE = "alice@example.com"
BOB = "bob@example.com"


@pytest.fixture
def s3(s3_bucket: Bucket, app_settings: SettingsOverride, tmp_path: Path) -> Bucket:
    """The bucket, with this test's own (empty) local folders: nothing may land in them for good."""
    app_settings.set(STORAGE_DIR=tmp_path / "storage")
    return s3_bucket


def _keys_of(render: Render) -> list[str]:
    return sorted(f"{render.tenant_id}/renders/{render.id}/{kept.filename}" for kept in kept_files())


def _follow(api: TestClient, path: str, headers: dict, **request_headers: str) -> httpx.Response:
    """GET an API download, check it is a redirect, and fetch where it points (the S3 server) over HTTP."""
    redirect = api.get(path, headers=headers, follow_redirects=False)
    assert redirect.status_code == 307, redirect.text
    assert redirect.headers["cache-control"] == "no-store"
    return httpx.get(redirect.headers["location"], headers=request_headers)


def _files_left(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_a_finished_render_keeps_its_files_in_the_bucket_only(api: TestClient, mailbox: MailCatcher,
                                                              s3: Bucket) -> None:
    headers, user = sign_in_headers(api, mailbox, ALICE)
    render = finished_render(api, headers, topic="Stored far away")
    assert s3.list_keys() == _keys_of(render)
    assert _files_left(render_dir(render.tenant_id, render.id)) == []  # work files and kept files: gone here
    sizes = {key.rsplit("/", 1)[1]: len(s3.read(key)) for key in s3.list_keys()}
    assert render.size_bytes == sum(sizes.values())
    # Each step that keeps files is charged its own files' size, rounded to 6 decimals per step.
    steps_keeping = len([s for s in STEPS if s.keeps])
    assert ledger_totals(user["tenant_id"])["storage_mb"] == pytest.approx(storage_mb(sum(sizes.values())),
                                                                          abs=steps_keeping * 1e-6)

    video = _follow(api, f"/api/renders/{render.id}/video", headers)
    assert video.status_code == 200 and video.content == s3.read(f"{user['tenant_id']}/renders/{render.id}/video.mp4")
    assert video.headers["content-type"] == "video/mp4"
    assert video.headers["content-disposition"] == 'attachment; filename="stored-far-away.mp4"'
    part = _follow(api, f"/api/renders/{render.id}/files/video", headers, Range="bytes=0-99")
    assert part.status_code == 206 and part.content == video.content[:100]

    thumbnail = _follow(api, f"/api/renders/{render.id}/thumbnail", headers)
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    assert thumbnail.headers["content-disposition"] == 'inline; filename="stored-far-away-thumbnail.jpg"'
    assert thumbnail.content[:2] == b"\xff\xd8"


def test_another_tenant_and_unfinished_renders_get_no_link(api: TestClient, mailbox: MailCatcher, s3: Bucket) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    render = finished_render(api, headers)
    bob, _ = sign_in_headers(api, mailbox, BOB)
    refused = api.get(f"/api/renders/{render.id}/video", headers=bob, follow_redirects=False)
    assert refused.status_code == 404 and "location" not in refused.headers
    queued = submit_render(api, bob)
    assert api.get(f"/api/renders/{queued['id']}/video", headers=bob, follow_redirects=False).status_code == 404
    assert api.get(f"/api/renders/{render.id}/files/nothing", headers=headers,
                   follow_redirects=False).status_code == 404


def test_deleting_a_render_empties_its_folder_in_the_bucket(api: TestClient, mailbox: MailCatcher,
                                                             s3: Bucket) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    gone, kept = finished_render(api, headers), finished_render(api, headers)
    assert api.delete(f"/api/renders/{gone.id}", headers=headers).status_code == 200
    assert s3.list_keys() == _keys_of(kept)
    assert api.get(f"/api/renders/{gone.id}/video", headers=headers, follow_redirects=False).status_code == 404


def test_storage_down_answers_503_and_deletes_nothing(api: TestClient, mailbox: MailCatcher, s3: Bucket,
                                                     app_settings: SettingsOverride) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    render = finished_render(api, headers)
    app_settings.set(S3_ENDPOINT_URL="http://127.0.0.1:1")
    for response in (api.get(f"/api/renders/{render.id}/video", headers=headers, follow_redirects=False),
                     api.delete(f"/api/renders/{render.id}", headers=headers)):
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "service_unavailable" and int(response.headers["retry-after"]) > 0
    app_settings.set(S3_ENDPOINT_URL=s3.server.url)
    assert api.get(f"/api/renders/{render.id}", headers=headers).json()["status"] == "succeeded"
    assert s3.list_keys() == _keys_of(render)


def _export(api: TestClient, headers: dict) -> DataExport:
    response = api.post("/api/account/export", headers=headers)
    assert response.status_code == 202, response.text
    assert build_export_job(response.json()["id"]) == "ready"
    with Session(get_engine(), expire_on_commit=False) as fresh:
        row = fresh.get(DataExport, response.json()["id"])
    assert row is not None
    return row


def test_an_export_is_built_from_the_bucket_and_stored_there(api: TestClient, mailbox: MailCatcher, s3: Bucket,
                                                             session: Session, tmp_path: Path) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    render = finished_render(api, headers)
    row = _export(api, headers)
    assert s3.list_keys("exports/") == [f"exports/{row.filename}"]
    assert _files_left(tmp_path / "exports") == []  # built here, then stored
    stored = s3.read(f"exports/{row.filename}")
    assert row.size_bytes == len(stored)

    download = _follow(api, f"/api/account/download-export/{row.filename}", headers)
    assert download.content == stored
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["content-disposition"] == \
        f'attachment; filename="narrated-studio-export-{row.created_at:%Y-%m-%d}.zip"'
    with zipfile.ZipFile(io.BytesIO(download.content)) as zf:
        for key in _keys_of(render):
            assert zf.read(f"renders/{render.id}/{key.rsplit('/', 1)[1]}") == s3.read(key)

    with Session(get_engine()) as fresh:
        expired = fresh.get(DataExport, row.id)
        assert expired is not None
        expired.expires_at = utcnow() - timedelta(seconds=1)
        fresh.add(expired)
        fresh.commit()
    assert delete_expired_exports(session=session) == 1
    session.commit()
    assert s3.list_keys("exports/") == []


def test_purging_a_tenant_removes_its_objects_and_no_one_elses(api: TestClient, mailbox: MailCatcher, s3: Bucket,
                                                               session: Session) -> None:
    alice, alice_user = sign_in_headers(api, mailbox, ALICE)
    bob, _ = sign_in_headers(api, mailbox, BOB)
    finished_render(api, alice)
    alice_export = _export(api, alice)
    bobs = finished_render(api, bob)
    bob_export = _export(api, bob)
    assert purge_tenant(session=session, tenant_id=alice_user["tenant_id"]) is True
    session.commit()
    assert s3.list_keys() == sorted([*_keys_of(bobs), f"exports/{bob_export.filename}"])
    assert f"exports/{alice_export.filename}" not in s3.list_keys()


def test_a_worker_removes_work_folders_of_renders_that_ended_elsewhere(
        api: TestClient, mailbox: MailCatcher, s3: Bucket, session: Session, app_settings: SettingsOverride) -> None:
    headers, user = sign_in_headers(api, mailbox, ALICE)
    ended = finished_render(api, headers)
    queued = submit_render(api, headers)["id"]
    left = {rid: render_dir(user["tenant_id"], rid) for rid in (ended.id, queued, "0" * 32)}  # "0"*32: deleted
    for folder in left.values():
        (folder / "work").mkdir(parents=True)
        (folder / "work" / "scene_0.wav").write_bytes(b"RIFF")
    assert drop_abandoned_work_folders(session=session) == 2
    assert [rid for rid, folder in left.items() if folder.exists()] == [queued]  # may still resume here

    app_settings.set(STORAGE_BACKEND="local")  # there the folders are the store: never swept
    assert drop_abandoned_work_folders(session=session) == 0 and left[queued].exists()
