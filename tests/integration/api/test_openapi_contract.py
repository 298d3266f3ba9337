"""The OpenAPI document is the API's contract: each operation says what it answers, and answers only that.

`tests/openapi_contract.py` holds the rules; the `api` fixture also checks every answer any
test gets against its operation's declared statuses. Here: the document itself, the rules
catching a route that breaks them, and every operation driven into its errors.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from factories import CTX, make_principal, make_user, tenant_id_of
from fastapi import Depends, FastAPI
from fastapi.security import HTTPBearer
from fastapi.testclient import TestClient
from openapi_contract import contract_violations, operations
from pydantic import BaseModel
from sqlmodel import Session

from saas_app.api.app import create_api
from saas_app.api.errors import ErrorBody
from saas_app.models import AuthSession, Tenant, User, utcnow
from saas_app.services.account.api_keys import create_api_key
from saas_app.services.auth.sessions import issue_api_tokens

UNKNOWN_ID = "0" * 32
# Routes for a signed-in person only: an API key is refused with 403.
USER_ONLY = ("/api/account/", "/api/billing/", "/api/auth/logout", "/api/team/", "/api/invitations/")
# A valid body for operations on an id that need one (the id is what must be refused, not the body).
ID_BODIES = {("patch", "/api/team/members/{user_id}"): {"role": "member"}}


@pytest.fixture(scope="module")
def spec() -> dict:
    with TestClient(create_api()) as client:
        response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", UNKNOWN_ID, path)


def _error(response) -> ErrorBody:  # type: ignore[no-untyped-def]
    """The answer's body as an ErrorBody, with no field outside it."""
    body = response.json()
    assert set(body) <= set(ErrorBody.model_fields), body
    return ErrorBody.model_validate(body)


def _user_headers(session: Session) -> dict[str, str]:
    """A new user with an API session of its own: its access token's header."""
    user = make_user(session)
    tenant = session.get(Tenant, tenant_id_of(user))
    assert tenant is not None
    row = AuthSession(user_id=user.id, tenant_id=tenant.id, kind="api", expires_at=utcnow() + timedelta(days=1))
    session.add(row)
    session.flush()
    pair = issue_api_tokens(session=session, principal=make_principal(user, tenant, session_id=row.id))
    session.commit()
    return {"Authorization": f"Bearer {pair.access_token}"}


def _api_key_headers(session: Session) -> dict[str, str]:
    user = make_user(session)
    tenant = session.get(Tenant, tenant_id_of(user))
    assert isinstance(user, User) and tenant is not None
    key = create_api_key(session=session, principal=make_principal(user, tenant), name="contract", ctx=CTX)
    session.commit()
    return {"X-API-Key": key.key}


# The document


def test_every_operation_keeps_the_contract(spec: dict) -> None:
    assert len(list(operations(spec))) >= 35
    assert contract_violations(spec) == []
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey"}


class Thing(BaseModel):
    """A toy answer."""

    name: str


def test_the_rules_catch_a_route_that_breaks_them() -> None:
    toy = FastAPI()

    @toy.get("/untyped")
    def untyped() -> dict:  # a free-form answer
        return {}

    @toy.get("/things/{thing_id}")
    def thing(thing_id: str, _auth: object = Depends(HTTPBearer())) -> Thing:  # no declared errors
        return Thing(name=thing_id)

    problems = contract_violations(toy.openapi())

    assert "GET /untyped: its 200 application/json answer has an untyped schema" in problems
    assert "GET /things/{thing_id}: does not declare 401" in problems
    assert "GET /things/{thing_id}: does not declare 403" in problems
    assert "GET /things/{thing_id}: its 422 answer is not ErrorBody ({'$ref': " \
           "'#/components/schemas/HTTPValidationError'})" in problems
    assert "FastAPI's default HTTPValidationError is still in the document" in problems


# Each operation driven into its errors (the `api` fixture also checks each status is declared)


@pytest.mark.db
def test_every_operation_that_needs_credentials_refuses_missing_and_bad_ones(api: TestClient, spec: dict) -> None:
    secured = [(method, path) for method, path, op in operations(spec) if op.get("security")]
    assert len(secured) >= 30
    for method, path in secured:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YTpi"},
                        {"X-API-Key": "nsk_0000_wrong"}):
            response = api.request(method.upper(), _url(path), headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert _error(response).error == "unauthorized"


@pytest.mark.db
def test_account_and_billing_operations_refuse_api_keys(api: TestClient, spec: dict, session: Session) -> None:
    headers = _api_key_headers(session)
    user_only = [(m, p) for m, p, op in operations(spec) if op.get("security") and p.startswith(USER_ONLY)]
    assert len(user_only) >= 18
    for method, path in user_only:
        response = api.request(method.upper(), _url(path), headers=headers)
        assert response.status_code == 403, (method, path, response.text)
        assert _error(response).error == "forbidden"
    assert api.get("/api/usage", headers=headers).status_code == 200  # renders and usage take keys


@pytest.mark.db
def test_every_body_that_is_unreadable_or_invalid_is_refused_in_the_error_shape(
    api: TestClient, spec: dict, session: Session,
) -> None:
    with_body = [(m, p, "multipart/form-data" in op["requestBody"]["content"])
                 for m, p, op in operations(spec) if "requestBody" in op]
    assert len(with_body) >= 8
    for method, path, multipart in with_body:  # a JSON body, or a multipart form (uploads)
        headers = _user_headers(session)
        unreadable = api.request(method.upper(), _url(path), content=b"\xff\xfe{", headers={
            **headers, "Content-Type": "multipart/form-data; boundary=x" if multipart else "application/json"})
        assert unreadable.status_code == 400, (method, path, unreadable.text)
        assert _error(unreadable).error == "bad_request"
        invalid = (api.request(method.upper(), _url(path), files={"unexpected": ("u.txt", b"1")}, headers=headers)
                   if multipart else api.request(method.upper(), _url(path), json={"unexpected": 1}, headers=headers))
        assert invalid.status_code == 422, (method, path, invalid.text)
        refused = _error(invalid)
        assert refused.error == "validation_error" and refused.fields, (method, path, invalid.text)


@pytest.mark.db
def test_every_operation_on_an_unknown_id_answers_404(api: TestClient, spec: dict, session: Session) -> None:
    with_id = [(m, p) for m, p, op in operations(spec) if "{" in p and p.startswith("/api/")]
    assert len(with_id) >= 9
    for method, path in with_id:
        response = api.request(method.upper(), _url(path), headers=_user_headers(session),
                               json=ID_BODIES.get((method, path)))
        assert response.status_code == 404, (method, path, response.text)
        assert _error(response).error == "not_found"


@pytest.mark.db
def test_every_page_parameter_out_of_range_answers_422(api: TestClient, spec: dict, session: Session) -> None:
    paged = [(m, p) for m, p, op in operations(spec)
             if {"limit", "offset"} <= {param["name"] for param in op.get("parameters", [])}]
    assert len(paged) >= 2
    headers = _user_headers(session)
    for method, path in paged:
        for query in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "many"}):
            response = api.request(method.upper(), path, params=query, headers=headers)
            assert response.status_code == 422, (method, path, query, response.text)
            assert _error(response).fields
