"""Download names and their Content-Disposition header: one rule for every file the API serves."""

from __future__ import annotations

from email.message import Message
from email.utils import collapse_rfc2231_value

import pytest

from saas_app.services.core.downloads import MAX_STEM, content_disposition, download_name
from saas_app.services.renders.steps.video import THUMBNAIL, VIDEO


@pytest.mark.parametrize(("title", "extension", "expected"), [
    ("How volcanoes work", ".mp4", "how-volcanoes-work.mp4"),
    ("  Why? Because: “quotes”/slashes\\ & more!  ", ".mp4", "why-because-quotes-slashes-more.mp4"),
    ("snake_case__and--dashes", ".zip", "snake-case-and-dashes.zip"),
    ("Éruption du Vésuve", ".mp4", "éruption-du-vésuve.mp4"),
    ("火山の仕組み", ".mp4", "火山の仕組み.mp4"),
    ("🌋🌋", ".mp4", "narrated-studio.mp4"),
    ("../../etc/passwd", ".mp4", "etc-passwd.mp4"),
])
def test_download_name_is_the_title_in_lower_case_words(title: str, extension: str, expected: str) -> None:
    assert download_name(title, extension) == expected


def test_a_long_title_is_cut_at_a_word_boundary_of_dashes() -> None:
    name = download_name("word " * 40, ".mp4")
    assert len(name) <= MAX_STEM + len(".mp4") and name.endswith(".mp4") and "--" not in name
    assert not name.removesuffix(".mp4").endswith("-")


def test_render_files_are_named_after_the_topic() -> None:
    assert VIDEO.download_name("How volcanoes work") == "how-volcanoes-work.mp4"
    assert THUMBNAIL.download_name("How volcanoes work") == "how-volcanoes-work-thumbnail.jpg"
    assert VIDEO.download_name("!!!") == "video.mp4"


def _parsed(header: str) -> tuple[str, str | None]:
    """The disposition and the name a browser saves under (RFC 6266: `filename*` wins over `filename`)."""
    message = Message()
    message["Content-Disposition"] = header
    names = [value for key, value in message.get_params(header="content-disposition") or [] if key == "filename"]
    extended = [collapse_rfc2231_value(value) for value in names if isinstance(value, tuple)]  # filename*=
    return message.get_content_disposition() or "", (extended or names or [None])[0]  # type: ignore[return-value]


def test_content_disposition_is_read_back_as_the_same_name() -> None:
    assert content_disposition("how-volcanoes-work.mp4") == 'attachment; filename="how-volcanoes-work.mp4"'
    assert content_disposition("thumb.jpg", inline=True) == 'inline; filename="thumb.jpg"'
    for name in ("éruption-du-vésuve.mp4", "火山.mp4", 'a"b\\c.mp4'):
        header = content_disposition(name)
        assert header.isascii(), header
        assert _parsed(header) == ("attachment", name)
