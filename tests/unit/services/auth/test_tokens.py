"""JWTs: the round trip works and every kind of forged or misused token is refused."""

from __future__ import annotations

import time

import pytest
from factories import claims_of, jwt_payload, sign_jwt, unsigned_jwt

from saas_app.services.auth.tokens import ACCESS, REFRESH, decode_token, encode_token, sha256_hex
from saas_app.services.core.errors import AuthError


def _encode(typ: str = ACCESS) -> str:
    token, _ = encode_token(typ=typ, user_id="user-1", tenant_id="tenant-1", session_id="sess-1")
    return token


def test_round_trip() -> None:
    token, issued = encode_token(typ=ACCESS, user_id="user-1", tenant_id="tenant-1", session_id="sess-1")
    claims = decode_token(token, expected_typ=ACCESS)
    assert claims == issued
    assert (claims.user_id, claims.tenant_id, claims.session_id, claims.typ) == ("user-1", "tenant-1", "sess-1", ACCESS)
    assert claims.expires_at - int(claims.issued_at) == 24 * 3600
    assert abs(claims.issued_at - time.time()) < 5


def test_refresh_tokens_live_longer_and_every_token_has_its_own_id() -> None:
    token, claims = encode_token(typ=REFRESH, user_id="u", tenant_id="t", session_id="s")
    assert claims.expires_at - int(claims.issued_at) == 30 * 86400
    assert decode_token(token, expected_typ=REFRESH).jti == claims.jti
    assert claims_of(_encode())["jti"] != claims_of(_encode())["jti"]


def test_a_hand_built_token_is_accepted_when_valid() -> None:
    # The control for the forgeries below: the helpers build tokens the app accepts.
    assert decode_token(sign_jwt(jwt_payload()), expected_typ=ACCESS).user_id == "u1"


def test_alg_none_is_rejected() -> None:
    forged = unsigned_jwt(claims_of(_encode()))
    with pytest.raises(AuthError):
        decode_token(forged, expected_typ=ACCESS)


def test_other_algorithms_are_rejected_even_with_the_right_secret() -> None:
    with pytest.raises(AuthError):
        decode_token(sign_jwt(jwt_payload(), alg="HS384"), expected_typ=ACCESS)


def test_wrong_signature_is_rejected() -> None:
    with pytest.raises(AuthError):
        decode_token(sign_jwt(jwt_payload(), secret="another-secret-of-sufficient-length-0000"), expected_typ=ACCESS)


def test_a_tampered_payload_breaks_the_signature() -> None:
    header, _, signature = _encode().split(".")
    _, payload, _ = sign_jwt(jwt_payload(sub="admin")).split(".")
    with pytest.raises(AuthError):
        decode_token(f"{header}.{payload}.{signature}", expected_typ=ACCESS)


def test_refresh_token_is_not_an_access_token_and_vice_versa() -> None:
    with pytest.raises(AuthError):
        decode_token(_encode(REFRESH), expected_typ=ACCESS)
    with pytest.raises(AuthError):
        decode_token(_encode(ACCESS), expected_typ=REFRESH)


def test_expired_token_is_rejected_with_a_sign_in_again_message() -> None:
    now = int(time.time())
    with pytest.raises(AuthError, match="expired"):
        decode_token(sign_jwt(jwt_payload(iat=now - 3600, exp=now - 60)), expected_typ=ACCESS)


@pytest.mark.parametrize("claim", ["iss", "aud"])
def test_wrong_issuer_or_audience_is_rejected(claim: str) -> None:
    with pytest.raises(AuthError):
        decode_token(sign_jwt(jwt_payload(**{claim: "someone-else"})), expected_typ=ACCESS)


@pytest.mark.parametrize("claim", ["jti", "iss", "aud", "sub", "exp", "iat", "typ", "sid", "tid"])
def test_missing_claims_are_rejected(claim: str) -> None:
    payload = jwt_payload()
    del payload[claim]
    with pytest.raises(AuthError):
        decode_token(sign_jwt(payload), expected_typ=ACCESS)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x.y.z", "." * 3])
def test_garbage_is_an_auth_error_not_a_crash(garbage: str) -> None:
    with pytest.raises(AuthError):
        decode_token(garbage, expected_typ=ACCESS)


def test_sha256_hex() -> None:
    assert sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
