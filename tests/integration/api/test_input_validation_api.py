"""Input the API refuses with 422 and changes nothing for: numbers out of bounds, unknown choices,
control characters and invisible text (on SQLite and, in the PostgreSQL pass, on PostgreSQL)."""

from __future__ import annotations

import pytest
from factories import create_api_key, queued_render_jobs, render_payload, render_rows, sign_in_headers
from fastapi.testclient import TestClient

from saas_app.dev.mailcatcher import MailCatcher
from saas_app.services.core.validation import MAX_OFFSET, MAX_PAGE_SIZE
from saas_app.services.renders.input import CHOICES

pytestmark = pytest.mark.db

ALICE = "alice@example.com"
PAGED = ["/api/renders", "/api/account/audit"]


def _refused(response, field: str) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in [f["field"] for f in body["fields"]], body
    return str(body["message"])


# Item 12: numbers out of range


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize(("query", "field", "words"), [
    ("offset=9223372036854775808", "offset", f"at most {MAX_OFFSET}"),
    ("offset=99999999999999999999999999", "offset", f"at most {MAX_OFFSET}"),
    (f"offset={MAX_OFFSET + 1}", "offset", f"at most {MAX_OFFSET}"),
    ("offset=-1", "offset", "at least 0"),
    ("limit=0", "limit", "at least 1"),
    (f"limit={MAX_PAGE_SIZE + 1}", "limit", f"at most {MAX_PAGE_SIZE}"),
    ("limit=-9223372036854775809", "limit", "at least 1"),
], ids=["2**63", "huge", "max+1", "negative-offset", "limit-0", "limit-max+1", "limit-minus-2**63"])
def test_a_page_number_out_of_bounds_is_422(api: TestClient, mailbox: MailCatcher, path: str, query: str,
                                            field: str, words: str) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    assert words in _refused(api.get(f"{path}?{query}", headers=headers), field)


@pytest.mark.parametrize("path", PAGED)
def test_the_bounds_themselves_are_accepted(api: TestClient, mailbox: MailCatcher, path: str) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    response = api.get(f"{path}?offset={MAX_OFFSET}&limit={MAX_PAGE_SIZE}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize("path", [
    "/api/renders/{id}", "/api/renders/{id}/video", "/api/renders/{id}/files/{id}",
    "/api/account/download-export/{id}", "/api/account/sessions/{id}", "/api/account/api-keys/{id}",
])
@pytest.mark.parametrize("bad_id", ["a%00b", "x" * 65, "%E2%80%8B"], ids=["nul", "65-chars", "zero-width"])
def test_an_id_in_a_path_that_cannot_exist_is_422(api: TestClient, mailbox: MailCatcher, path: str,
                                                  bad_id: str) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)
    method = "DELETE" if path.startswith(("/api/account/sessions", "/api/account/api-keys")) else "GET"
    response = api.request(method, path.format(id=bad_id), headers=headers)
    assert response.status_code == 422, response.text


# Item 13: unvalidated choices


@pytest.mark.parametrize("field", ["voice", "template", "resolution"])
@pytest.mark.parametrize("value", ["../../etc/passwd", None, "", 7], ids=repr)
def test_a_choice_outside_its_registry_is_422_naming_the_allowed_values(
    api: TestClient, mailbox: MailCatcher, field: str, value: object,
) -> None:
    headers, me = sign_in_headers(api, mailbox, ALICE)

    message = _refused(api.post("/api/renders", json=render_payload(**{field: value}), headers=headers), field)

    assert f"{field}: unknown {field}; choose one of: {', '.join(CHOICES[field])}" in message
    assert queued_render_jobs() == [] and render_rows(me["tenant_id"]) == []


# Item 11: control characters and invisible text


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"topic": "Volcanoes\x00"}, "topic", "control character"),
    ({"topic": "a\x00b"}, "topic", "control character"),
    ({"topic": "\u200b\u200b"}, "topic", "no visible characters"),
    ({"scenes": [{"text": "\u200b \u200c \ufeff"}]}, "scenes.0.text", "no visible characters"),
    ({"scenes": [{"text": "   "}]}, "scenes.0.text", "is required"),
    ({"scenes": [{"text": "ok", "narration": "say \x1b[2J this"}]}, "scenes.0.narration", "control character"),
    ({"scenes": [{"text": "fine\x00"}]}, "scenes.0.text", "control character"),
], ids=["nul-topic-end", "nul-topic-middle", "zero-width-topic", "zero-width-text", "blank-text",
        "escape-narration", "nul-text"])
def test_control_characters_and_invisible_text_are_422_and_nothing_is_stored(
    api: TestClient, mailbox: MailCatcher, change: dict, field: str, words: str,
) -> None:
    headers, me = sign_in_headers(api, mailbox, ALICE)

    message = _refused(api.post("/api/renders", json=render_payload(**change), headers=headers), field)

    assert words in message
    assert queued_render_jobs() == [] and render_rows(me["tenant_id"]) == []


@pytest.mark.parametrize("name", ["key\x00", "\u200b", "tab\x0bkey"], ids=["nul", "zero-width", "vertical-tab"])
def test_an_api_key_name_with_a_control_character_or_nothing_visible_is_422(
    api: TestClient, mailbox: MailCatcher, name: str,
) -> None:
    headers, _ = sign_in_headers(api, mailbox, ALICE)

    _refused(api.post("/api/account/api-keys", json={"name": name}, headers=headers), "name")

    assert api.get("/api/account/api-keys", headers=headers).json()["items"] == []
    assert create_api_key(api, headers, name="Laptop \u00e9")["name"] == "Laptop \u00e9"
