"""Browser form posts: the HttpOnly session cookie, its Origin checks, and sign-out."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from factories import bearer, clear_rate_limits, emails_to, link_and_code, sign_in_api
from fastapi.testclient import TestClient

from saas_app.dev.mailcatcher import MailCatcher

pytestmark = pytest.mark.db

EMAIL = "margaret@example.com"
SAME_SITE = {"Origin": "http://testserver"}
FOREIGN = {"Origin": "http://evil.example"}
COOKIE = "sa_session"


def _email_link(api: TestClient, smtp: MailCatcher, email: str = EMAIL,
                next_path: str | None = None) -> tuple[str, str]:
    before = emails_to(smtp, email)
    response = api.post("/api/auth/magic-link/request", json={"email": email, "next": next_path})
    assert response.status_code == 202
    _, token, code = link_and_code(smtp.wait_for(email, timeout=5, count=before + 1))
    return token, code


def _form_sign_in(api: TestClient, data: dict, headers: dict | None = None):  # type: ignore[no-untyped-def]
    return api.post("/api/auth/session", data=data, headers=SAME_SITE if headers is None else headers,
                    follow_redirects=False)


def _signed_in_cookie(api: TestClient, smtp: MailCatcher) -> str:
    token, _ = _email_link(api, smtp)
    response = _form_sign_in(api, {"token": token, "next": "/library"})
    assert response.status_code == 303, response.text
    return response.cookies[COOKIE]


def test_form_sign_in_sets_an_httponly_lax_cookie_that_authenticates(api: TestClient, mailbox: MailCatcher) -> None:
    token, _ = _email_link(api, mailbox)
    response = _form_sign_in(api, {"token": token, "next": "/library"})
    assert response.status_code == 303
    assert response.headers["location"] == "/library"
    set_cookie = response.headers["set-cookie"]
    attributes = [part.strip().lower() for part in set_cookie.split(";")]
    assert set_cookie.startswith(f"{COOKIE}=") and len(response.cookies[COOKIE]) >= 40
    assert "httponly" in attributes and "samesite=lax" in attributes and "path=/" in attributes
    assert f"max-age={30 * 86400}" in attributes and "secure" not in attributes
    me = api.get("/api/auth/me")  # the client sends the cookie back, like a browser
    assert me.status_code == 200 and me.json()["email"] == EMAIL


def test_form_sign_in_uses_the_link_next_path_and_refuses_open_redirects(
    api: TestClient, mailbox: MailCatcher
) -> None:
    token, _ = _email_link(api, mailbox, next_path="/billing")
    assert _form_sign_in(api, {"token": token}).headers["location"] == "/billing"
    token, _ = _email_link(api, mailbox, email="second@example.com")
    response = _form_sign_in(api, {"token": token, "next": "//evil.example/phish"})
    assert response.headers["location"] == "/create"


@pytest.mark.parametrize("next_path", ["https://evil.example/", "//evil.example", "/\\evil.example",
                                       " //evil.example", "/login?next=x", "/api/auth/me", "javascript:alert(1)"])
def test_form_sign_in_never_redirects_off_site(api: TestClient, mailbox: MailCatcher, next_path: str) -> None:
    token, _ = _email_link(api, mailbox)
    response = _form_sign_in(api, {"token": token, "next": next_path})
    assert response.status_code == 303 and response.headers["location"] == "/create"


def test_control_characters_in_next_stay_encoded(api: TestClient, mailbox: MailCatcher) -> None:
    # Browsers drop raw tabs and newlines from URLs, which would turn "/\t/x" into "//x".
    token, _ = _email_link(api, mailbox)
    location = _form_sign_in(api, {"token": token, "next": "/\t/evil.example"}).headers["location"]
    assert location.startswith("/") and not location.startswith("//") and "\t" not in location


def test_form_sign_in_by_code(api: TestClient, mailbox: MailCatcher) -> None:
    _, code = _email_link(api, mailbox)
    response = _form_sign_in(api, {"email": EMAIL, "code": code, "next": "/create"})
    assert response.status_code == 303 and response.headers["location"] == "/create"
    assert api.get("/api/auth/me").json()["email"] == EMAIL


def test_wrong_code_goes_back_to_login_with_a_reason(api: TestClient, mailbox: MailCatcher) -> None:
    _, code = _email_link(api, mailbox)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = _form_sign_in(api, {"email": EMAIL, "code": wrong, "next": "/create"})
    assert response.status_code == 303 and COOKIE not in response.cookies
    location = response.headers["location"]
    assert location.startswith("/login?error=code_invalid")
    assert parse_qs(urlsplit(location).query) == {"error": ["code_invalid"], "email": [EMAIL], "next": ["/create"]}
    malformed = _form_sign_in(api, {"email": EMAIL, "code": "12ab", "next": "/create"})
    assert malformed.headers["location"].startswith("/login?error=invalid_input")
    assert _form_sign_in(api, {"email": EMAIL, "code": code}).headers["location"] == "/create"  # still valid


def test_bad_token_goes_to_the_verify_page(api: TestClient) -> None:
    response = _form_sign_in(api, {"token": "no-such-token"})
    assert response.status_code == 303 and response.headers["location"] == "/auth/verify?error=link_invalid"


@pytest.mark.parametrize("headers", [FOREIGN, {}, {"Referer": "http://evil.example/page"}])
def test_form_sign_in_from_another_site_is_403_and_keeps_the_link(
    api: TestClient, mailbox: MailCatcher, headers: dict
) -> None:
    token, _ = _email_link(api, mailbox)
    response = _form_sign_in(api, {"token": token}, headers=headers)
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert _form_sign_in(api, {"token": token}, headers={"Referer": "http://testserver/auth/verify"}).status_code == 303


def test_cookie_post_from_another_origin_is_403(api: TestClient, mailbox: MailCatcher) -> None:
    _signed_in_cookie(api, mailbox)
    for headers in (FOREIGN, {}):
        refused = api.post("/api/auth/logout", headers=headers)
        assert refused.status_code == 403 and "did not come from the app" in refused.json()["message"]
    assert api.get("/api/auth/me", headers=FOREIGN).status_code == 200  # reads are not state changes
    assert api.post("/api/auth/logout", headers=SAME_SITE).status_code == 200
    assert api.get("/api/auth/me").status_code == 401


def test_browser_sign_out_clears_the_cookie_and_ends_the_session(api: TestClient, mailbox: MailCatcher) -> None:
    cookie = _signed_in_cookie(api, mailbox)
    assert api.post("/api/auth/session/logout", headers=FOREIGN, follow_redirects=False).status_code == 403
    response = api.post("/api/auth/session/logout", headers=SAME_SITE, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?signed_out=1"
    cleared = [part.strip().lower() for part in response.headers["set-cookie"].split(";")]
    assert cleared[0] in (f'{COOKIE}=""', f"{COOKIE}=") and "max-age=0" in cleared
    assert api.get("/api/auth/me").status_code == 401
    api.cookies.set(COOKIE, cookie)  # a copy of the cookie kept from before sign-out
    assert api.get("/api/auth/me").status_code == 401


def test_browser_sign_out_everywhere_also_ends_api_sessions(api: TestClient, mailbox: MailCatcher,
                                                            redis_client: redis.Redis) -> None:
    api_tokens = sign_in_api(api, mailbox, EMAIL)
    clear_rate_limits(redis_client)
    _signed_in_cookie(api, mailbox)
    response = api.post("/api/auth/session/logout-all", headers=SAME_SITE, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?signed_out=all"
    assert api.get("/api/auth/me").status_code == 401
    assert api.get("/api/auth/me", headers=bearer(api_tokens["access_token"])).status_code == 401


def test_fetch_metadata_decides_where_a_post_comes_from(api: TestClient, mailbox: MailCatcher) -> None:
    """The sign-in link page sends no Referer, so its form's Origin is "null": `Sec-Fetch-Site` vouches."""
    token, _ = _email_link(api, mailbox)
    for site in ("cross-site", "same-site", "none"):
        forged = _form_sign_in(api, {"token": token}, headers={"Sec-Fetch-Site": site, **SAME_SITE})
        assert forged.status_code == 403, site
    from_the_page = _form_sign_in(api, {"token": token}, headers={"Sec-Fetch-Site": "same-origin", "Origin": "null"})
    assert from_the_page.status_code == 303 and from_the_page.cookies[COOKIE]
