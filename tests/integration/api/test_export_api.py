"""GDPR data export over HTTP: the ZIP's golden schema, the email, the download rules, expiry and the hourly limit.

The export job runs in this process (`saas_app.jobs.account.build_export_job`, what the RQ
worker calls) after the route queued it on the real "default" queue.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from factories import (
    api_key_headers,
    create_api_key,
    download_path,
    emails_to,
    finished_render,
    newest_email,
    sign_in_headers,
    text_part,
)
from fastapi.testclient import TestClient
from PIL import Image
from rq.job import Job
from rq.serializers import JSONSerializer
from shared_helpers import SettingsOverride
from sqlmodel import Session, col, select

from saas_app import routes
from saas_app.db import get_engine
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.jobs.account import build_export_job
from saas_app.models import DataExport, UsageRecord, utcnow
from saas_app.services.account.exports import delete_expired_exports, export_path
from saas_app.services.core.queue import get_queue, get_rq_connection
from saas_app.services.renders.files import render_dir
from saas_app.services.renders.steps.registry import STEPS, kept_files, metrics_charged
from saas_app.services.usage.metrics import METRICS

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("account_dirs")]

ALICE = "alice@example.com"
BOB = "bob@example.com"

DOCUMENTS = {"profile.json", "tenant.json", "usage.jsonl", "audit.json", "renders.json", "billing.json", "assets.json",
             "members.json", "README.txt"}  # an owner's export (other roles: test_export_roles.py)
# The golden schema: the keys of each JSON object (lists: of each item).
GOLDEN = {
    "profile.json": {"user_id", "email", "role", "created_at", "last_login_at", "memberships"},
    "members.json": {"members", "pending_invitations"},
    "tenant.json": {"tenant_id", "name", "plan", "created_at"},
    "renders.json": {"id", "topic", "scenes", "template", "voice", "resolution", "status", "error",
                     "duration_seconds", "created_at", "finished_at", "deleted"},
    "audit.json": {"action", "actor", "target", "ip", "user_agent", "request_id", "created_at", "details"},
    "billing.json": {"plan", "stripe_customer_id", "subscription", "invoices"},
    "usage.jsonl": {"event_key", "metric", "amount", "period", "render_id", "created_at"},
}


def _request_export(api: TestClient, headers: dict) -> str:
    response = api.post("/api/account/export", headers=headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued"
    return body["id"]


def _export_row(export_id: str) -> DataExport:
    with Session(get_engine(), expire_on_commit=False) as fresh:
        row = fresh.get(DataExport, export_id)
    assert row is not None
    return row


def _build(export_id: str) -> DataExport:
    """What the worker does with the queued job (checked to be there, with the JSON serializer)."""
    job = Job.fetch(f"export-{export_id}", connection=get_rq_connection(), serializer=JSONSerializer)
    assert job.func_name == "saas_app.jobs.account.build_export_job" and job.args == [export_id]
    assert job.id in get_queue("default").job_ids
    assert build_export_job(export_id) == "ready"
    return _export_row(export_id)


def _ready_export(api: TestClient, mailbox: MailCatcher, email: str) -> tuple[dict, DataExport, str]:
    """Sign in, export, build: (headers, the export row, the download path from the email)."""
    headers, _ = sign_in_headers(api, mailbox, email)
    before = emails_to(mailbox, email)
    row = _build(_request_export(api, headers))
    message = newest_email(mailbox, email, before)
    assert message["Subject"] == "Your data export is ready"
    return headers, row, download_path(message)


def _set_export(export_id: str, **values: object) -> None:
    with Session(get_engine()) as fresh:
        row = fresh.get(DataExport, export_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        fresh.add(row)
        fresh.commit()


def test_the_export_zip_matches_the_golden_schema(api: TestClient, mailbox: MailCatcher) -> None:
    headers, user = sign_in_headers(api, mailbox, ALICE)
    render = finished_render(api, headers, topic="Export me")
    row = _build(_request_export(api, headers))
    assert row.status == "ready" and row.size_bytes == export_path(row.filename).stat().st_size
    assert row.expires_at is not None and row.ready_at is not None
    assert abs((row.expires_at - row.ready_at) - timedelta(hours=24)) < timedelta(seconds=1)

    with zipfile.ZipFile(export_path(row.filename)) as zf:
        assert zf.testzip() is None
        kept = [file.filename for file in kept_files()]  # what the steps keep: video.mp4, thumb.jpg
        assert set(zf.namelist()) == DOCUMENTS | {f"renders/{render.id}/{name}" for name in kept}
        docs = {name: zf.read(name).decode() for name in DOCUMENTS}
        folder = render_dir(render.tenant_id, render.id)
        for name in kept:
            assert zf.read(f"renders/{render.id}/{name}") == (folder / name).read_bytes()

    parsed = {name: json.loads(docs[name]) for name in DOCUMENTS - {"usage.jsonl", "README.txt"}}
    usage = [json.loads(line) for line in docs["usage.jsonl"].splitlines()]
    for name, keys in GOLDEN.items():
        objects = usage if name == "usage.jsonl" else parsed[name]
        objects = objects if isinstance(objects, list) else [objects]
        assert objects, f"{name} is empty"
        for obj in objects:
            assert set(obj) == keys, f"{name}: {sorted(set(obj) ^ keys)}"

    assert parsed["profile.json"]["email"] == ALICE and parsed["profile.json"]["user_id"] == user["user_id"]
    assert parsed["tenant.json"]["tenant_id"] == user["tenant_id"] and parsed["tenant.json"]["plan"] == "free"
    assert [(r["id"], r["topic"], r["status"], r["deleted"]) for r in parsed["renders.json"]] == [
        (render.id, "Export me", "succeeded", False)]
    assert parsed["renders.json"][0]["scenes"][0]["text"] == "Scene 1 says hello."
    assert {"tenant.created", "auth.signed_in", "render.created", "account.export_requested"} <= {
        a["action"] for a in parsed["audit.json"]}
    assert parsed["billing.json"] == {"plan": "free", "stripe_customer_id": None, "subscription": None,
                                      "invoices": []}

    with Session(get_engine()) as fresh:
        ledger = fresh.exec(select(UsageRecord).where(UsageRecord.tenant_id == user["tenant_id"])
                            .order_by(col(UsageRecord.id))).all()
        expected = [{"event_key": u.event_key, "metric": u.metric, "amount": u.amount, "period": u.period,
                     "render_id": u.render_id, "created_at": u.created_at.isoformat()} for u in ledger]
    assert len(expected) == sum(len(metrics_charged(step)) for step in STEPS) and usage == expected

    readme = docs["README.txt"]
    for name in DOCUMENTS | {"renders/"} | set(kept) | set(METRICS.names()):
        assert name in readme, f"README.txt does not describe {name}"


def test_the_email_links_to_a_download_for_the_owner_only(api: TestClient, mailbox: MailCatcher) -> None:
    headers, row, path = _ready_export(api, mailbox, ALICE)
    assert path == f"/api/account/download-export/{row.filename}"

    response = api.get(path, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    # Saved as the product and the export's date, not as its random storage name.
    assert response.headers["content-disposition"] == \
        f'attachment; filename="narrated-studio-export-{row.created_at:%Y-%m-%d}.zip"'
    assert response.content == export_path(row.filename).read_bytes()
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        assert set(zf.namelist()) == DOCUMENTS  # no renders yet: no media files

    listed = api.get("/api/account/exports", headers=headers).json()["items"]
    assert [(i["id"], i["status"], i["download_url"]) for i in listed] == [(row.id, "ready", path)]

    bob, _ = sign_in_headers(api, mailbox, BOB)
    assert api.get(path, headers=bob).status_code == 404
    assert api.get("/api/account/exports", headers=bob).json()["items"] == []
    assert api.get(path).status_code == 401
    key = create_api_key(api, headers)["key"]
    assert api.get(path, headers=api_key_headers(key)).status_code == 403

    name = row.filename
    tampered = [name[:-5] + ("A" if name[-5] != "A" else "B") + name[-4:], name.removesuffix(".zip"),
                name + ".zip", "..%2F" + name]
    for other in tampered:
        assert api.get(f"/api/account/download-export/{other}", headers=headers).status_code == 404, other
    for impossible in ("export-" + "x" * 200 + ".zip", "export-%00.zip"):  # too long / not a file name: 422
        assert api.get(f"/api/account/download-export/{impossible}", headers=headers).status_code == 422


def test_an_expired_export_is_410_and_its_file_is_removed(
    api: TestClient, session: Session, mailbox: MailCatcher,
) -> None:
    headers, row, path = _ready_export(api, mailbox, ALICE)
    _, other, _ = _ready_export(api, mailbox, BOB)  # still valid: must survive the sweep
    _set_export(row.id, expires_at=utcnow() - timedelta(seconds=1))
    response = api.get(path, headers=headers)
    assert response.status_code == 410
    assert response.json()["error"] == "export_expired"
    assert export_path(row.filename).exists()  # the sweep deletes it, not the download

    assert delete_expired_exports(session=session) == 1
    session.commit()
    assert not export_path(row.filename).exists()
    assert _export_row(row.id).status == "expired"
    assert export_path(other.filename).exists() and _export_row(other.id).status == "ready"
    assert api.get(path, headers=headers).status_code == 410
    listed = api.get("/api/account/exports", headers=headers).json()["items"]
    assert [(i["status"], i["download_url"]) for i in listed] == [("expired", None)]
    assert delete_expired_exports(session=session) == 0


def test_the_link_lifetime_follows_export_ttl_hours(
    api: TestClient, mailbox: MailCatcher, account_dirs: SettingsOverride,
) -> None:
    account_dirs.set(EXPORT_TTL_HOURS=48)
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    before = emails_to(mailbox, ALICE)
    row = _build(_request_export(api, headers))
    assert row.expires_at is not None and row.ready_at is not None
    assert abs((row.expires_at - row.ready_at) - timedelta(hours=48)) < timedelta(seconds=1)
    _set_export(row.id, expires_at=utcnow() + timedelta(hours=30))  # past the default 24 h, within 48 h
    assert api.get(f"/api/account/download-export/{row.filename}", headers=headers).status_code == 200
    text = text_part(newest_email(mailbox, ALICE, before))
    assert "48 hours" in text and "24 hours" not in text, text


def test_one_export_per_hour_per_tenant(api: TestClient, mailbox: MailCatcher) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    first = _request_export(api, headers)
    again = api.post("/api/account/export", headers=headers)
    assert again.status_code == 429, again.text
    wait = int(again.headers["Retry-After"])
    assert 3500 < wait <= 3601 and again.json()["retry_after"] == wait
    assert again.json()["error"] == "rate_limited"
    assert len(api.get("/api/account/exports", headers=headers).json()["items"]) == 1

    bob, _ = sign_in_headers(api, mailbox, BOB)
    _request_export(api, bob)  # the limit is per tenant

    _set_export(first, created_at=utcnow() - timedelta(minutes=59))
    late = api.post("/api/account/export", headers=headers)
    assert late.status_code == 429 and 1 <= int(late.headers["Retry-After"]) <= 61
    _set_export(first, created_at=utcnow() - timedelta(minutes=61))
    _request_export(api, headers)


def test_the_export_holds_the_asset_library(api: TestClient, mailbox: MailCatcher) -> None:
    headers, user = sign_in_headers(api, mailbox, ALICE)
    image = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(image, format="PNG")
    uploaded = api.post(routes.API_ASSETS, headers=headers, files={"file": ("leaf.png", image.getvalue())})
    assert uploaded.status_code == 201, uploaded.text
    asset = uploaded.json()
    row = _build(_request_export(api, headers))
    with zipfile.ZipFile(export_path(row.filename)) as zf:
        stored = api.get(routes.API_ASSET_FILE.format(asset_id=asset["id"]), headers=headers).content
        assert zf.read(f"assets/{asset['id']}.png") == stored
        assert [(a["id"], a["name"], a["kind"]) for a in json.loads(zf.read("assets.json"))] == [
            (asset["id"], "leaf.png", "image")]
