"""The asset library over HTTP: uploads checked by decoding (422 with a plain message, nothing kept),
EXIF removed, storage charged and given back, tenant isolation, exports; and a render that uses an
uploaded image (seen in its frames), captions (served as .srt/.vtt) and music, in vertical format."""

from __future__ import annotations

import io
import subprocess
import wave
from pathlib import Path

import pysubs2
import pytest
from factories import ledger_totals, sign_in_headers, submit_render, usage_summary
from fastapi.testclient import TestClient
from PIL import Image

from saas_app import routes
from saas_app.dev.mailcatcher import MailCatcher
from saas_app.services.assets.checks import MAX_IMAGE_BYTES
from saas_app.services.core.storage import Area, get_store
from saas_app.services.renders import pipeline
from saas_app.services.renders.media import video
from saas_app.services.usage.metering import storage_mb

pytestmark = pytest.mark.db
ALICE, BOB = "alice@example.com", "bob@example.com"
RED = (220, 30, 30)


def _image(fmt: str = "PNG", size: tuple[int, int] = (400, 300), exif: bool = False) -> bytes:
    image = Image.new("RGB", size, RED)
    out = io.BytesIO()
    if exif:
        tags = Image.Exif()
        tags[0x010F], tags[0x8825] = "SecretCam", {2: (51.0, 30.0, 0.0)}  # camera make, GPS latitude
        image.save(out, format=fmt, exif=tags.tobytes())
    else:
        image.save(out, format=fmt)
    return out.getvalue()


def _wav(seconds: float = 3.0, rate: int = 22050) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x10\x20" * int(seconds * rate))
    return out.getvalue()


def _upload(api: TestClient, headers: dict, data: bytes, name: str = "photo.png", kind: str = "image",
            **form: str) -> tuple[int, dict]:
    response = api.post(routes.API_ASSETS, headers=headers, files={"file": (name, data)}, data={"kind": kind, **form})
    return response.status_code, response.json()


@pytest.mark.parametrize(("kind", "name", "data", "says"), [
    ("image", "notes.png", b"just some text", "could not be read as a PNG, JPEG or WebP"),
    ("image", "cut.png", _image()[:200], "could not be read as a PNG, JPEG or WebP"),
    ("image", "anim.gif", _image("GIF"), "could not be read as a PNG, JPEG or WebP"),
    ("image", "huge.png", b"\x89PNG" + b"\0" * MAX_IMAGE_BYTES, "larger than 10 MB"),
    ("music", "song.mp3", _image(), "could not be read as MP3 or WAV"),
    ("music", "short.wav", _wav(0.2), "shorter than a second"),
    ("video", "x.png", _image(), "Input should be"),
])
def test_a_bad_upload_answers_422_in_plain_words_and_keeps_nothing(api: TestClient, mailbox: MailCatcher,
                                                                  kind: str, name: str, data: bytes, says: str) -> None:
    headers, me = sign_in_headers(api, mailbox, ALICE)
    status, body = _upload(api, headers, data, name, kind)
    assert status == 422 and says in body["message"], body
    assert api.get(routes.API_ASSETS, headers=headers).json()["total"] == 0
    assert ledger_totals(me["tenant_id"]).get("storage_mb", 0) == 0
    assert not (get_store(Area.RENDERS).local_root / me["tenant_id"] / "assets").exists()  # type: ignore[operator]


def test_an_uploaded_image_loses_its_exif_is_charged_and_deleting_it_gives_storage_back(
        api: TestClient, mailbox: MailCatcher) -> None:
    headers, me = sign_in_headers(api, mailbox, ALICE)
    original = _image("JPEG", exif=True)
    assert b"SecretCam" in original
    status, asset = _upload(api, headers, original, "../../holiday.jpg", focus_x="0.2", focus_y="0.7")
    assert status == 201, asset
    assert (asset["kind"], asset["name"], asset["media_type"]) == ("image", "holiday.jpg", "image/jpeg")
    assert (asset["width"], asset["height"], asset["focus_x"], asset["focus_y"]) == (400, 300, 0.2, 0.7)
    stored = api.get(routes.API_ASSET_FILE.format(asset_id=asset["id"]), headers=headers)
    assert stored.status_code == 200 and stored.headers["content-type"] == "image/jpeg"
    assert b"SecretCam" not in stored.content and not Image.open(io.BytesIO(stored.content)).getexif()
    assert len(stored.content) == asset["size_bytes"]
    assert usage_summary(api, headers)["metrics"]["storage_mb"]["used"] == pytest.approx(
        storage_mb(asset["size_bytes"]), abs=1e-3)

    bob, _ = sign_in_headers(api, mailbox, BOB)  # another workspace sees nothing of it
    assert api.get(routes.API_ASSETS, headers=bob).json()["total"] == 0
    assert api.get(routes.API_ASSET_FILE.format(asset_id=asset["id"]), headers=bob).status_code == 404
    assert api.delete(routes.API_ASSET.format(asset_id=asset["id"]), headers=bob).status_code == 404
    body = {"topic": "T", "scenes": [{"text": "A", "image": asset["id"]}]}
    refused = api.post("/api/renders", headers=bob, json=body)
    assert refused.status_code == 422 and "not in your library" in refused.json()["message"]

    assert api.delete(routes.API_ASSET.format(asset_id=asset["id"]), headers=headers).status_code == 200
    assert api.get(routes.API_ASSET_FILE.format(asset_id=asset["id"]), headers=headers).status_code == 404
    assert usage_summary(api, headers)["metrics"]["storage_mb"]["used"] == 0
    assert ledger_totals(me["tenant_id"])["storage_mb"] == pytest.approx(0, abs=1e-9)
    assert not list((get_store(Area.RENDERS).local_root / me["tenant_id"] / "assets").iterdir())  # type: ignore[operator]


def _frame(video_path: Path, seconds: float, out: Path) -> Image.Image:
    subprocess.run([video.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-ss", f"{seconds:.2f}", "-i",
                    str(video_path), "-frames:v", "1", str(out)], check=True, capture_output=True)
    return Image.open(out).convert("RGB")


def _mean(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[float, ...]:
    """The mean colour inside `box` (a box filter down to one pixel)."""
    pixel = image.crop(box).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(pixel, tuple)
    return tuple(float(c) for c in pixel)


def test_a_vertical_render_shows_the_uploaded_image_serves_captions_and_plays_music(
        api: TestClient, mailbox: MailCatcher, tmp_path: Path) -> None:
    headers, me = sign_in_headers(api, mailbox, ALICE)
    _, image = _upload(api, headers, _image("WEBP", (1600, 900)), "wide.webp")
    _, track = _upload(api, headers, _wav(4.0), "loop.wav", "music")
    assert track["kind"] == "music" and track["seconds"] == pytest.approx(4.0, abs=0.05)
    created = submit_render(api, headers, scenes=[{"text": "Red things first.", "image": image["id"]},
                                                  {"text": "Then a title card."}],
                            aspect="9:16", captions="words", music_asset=track["id"], music_volume=40)
    assert pipeline.run_render(render_id=created["id"], retries_left=0) == "succeeded"
    detail = api.get(f"/api/renders/{created['id']}", headers=headers).json()
    assert detail["options"] == {"aspect": "9:16", "captions": "words", "music": "upload", "music_volume": 40,
                                 "music_asset": track["id"]}
    assert detail["scenes_detail"][0]["image"] == image["id"]
    steps = {s["name"]: s["detail"] for s in detail["steps"]}
    assert steps["music"] == "Your music at 40%" and steps["captions"].endswith("burned in")

    mp4 = tmp_path / "v.mp4"
    mp4.write_bytes(api.get(f"/api/renders/{created['id']}/video", headers=headers).content)
    info = video.probe(mp4)
    assert (info.width, info.height) == (720, 1280) and info.has_audio
    first, second = _frame(mp4, 0.3, tmp_path / "a.png"), _frame(mp4, info.seconds - 0.3, tmp_path / "b.png")
    corner = (10, 10, 60, 60)  # the photo fills the frame (shaded under the text), the title card does not
    r, g, b = _mean(first, corner)
    assert r > 100 and r > 2.5 * g and r > 2.5 * b, (r, g, b)
    r2, g2, b2 = _mean(second, corner)
    assert not (r2 > 2.5 * g2 and r2 > 2.5 * b2), (r2, g2, b2)

    for key, fmt in (("srt", "srt"), ("vtt", "vtt")):
        served = api.get(routes.render_file(created["id"], key), headers=headers)
        assert served.status_code == 200
        assert served.headers["content-disposition"] == f'attachment; filename="tiny-facts-captions.{key}"'
        subs = pysubs2.SSAFile.from_string(served.text, format_=fmt)
        assert " ".join(e.plaintext for e in subs) == "Red things first. Then a title card."
        assert subs[-1].end / 1000 == pytest.approx(info.seconds, abs=0.25)


def test_an_upload_over_the_storage_quota_answers_402_and_keeps_nothing(api: TestClient, mailbox: MailCatcher,
                                                                       app_settings) -> None:  # type: ignore[no-untyped-def]
    app_settings.set(QUOTA_STORAGE_MB=0)
    headers, me = sign_in_headers(api, mailbox, ALICE)
    status, body = _upload(api, headers, _image())
    assert status == 402 and body["error"] == "quota_exceeded" and body["metric"] == "storage_mb", body
    assert api.get(routes.API_ASSETS, headers=headers).json()["total"] == 0
    assert ledger_totals(me["tenant_id"]).get("storage_mb", 0) == 0


def test_a_queued_render_whose_image_was_deleted_fails_in_plain_words(api: TestClient, mailbox: MailCatcher) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    _, image = _upload(api, headers, _image())
    created = submit_render(api, headers, scenes=[{"text": "Gone soon.", "image": image["id"]}])
    assert api.delete(routes.API_ASSET.format(asset_id=image["id"]), headers=headers).status_code == 200
    assert pipeline.run_render(render_id=created["id"], retries_left=3) == "failed"  # no retry can bring it back
    detail = api.get(f"/api/renders/{created['id']}", headers=headers).json()
    assert "image chosen for scene 1 was deleted" in detail["error"]


def test_an_mp3_upload_is_decoded_and_kept_as_music(api: TestClient, mailbox: MailCatcher, tmp_path: Path) -> None:
    mp3 = tmp_path / "tune.mp3"
    subprocess.run([video.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=2", "-c:a", "libmp3lame", str(mp3)], check=True)
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    status, track = _upload(api, headers, mp3.read_bytes(), "tune.mp3", "music")
    assert status == 201, track
    assert (track["kind"], track["media_type"]) == ("music", "audio/mpeg")
    assert track["seconds"] == pytest.approx(2.0, abs=0.1)
    listed = api.get(routes.API_ASSETS, headers=headers, params={"kind": "music"}).json()
    assert [a["id"] for a in listed["assets"]] == [track["id"]] and listed["total"] == 1
