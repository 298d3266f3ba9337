"""The rules the API's OpenAPI document must follow, and the check that an answer was declared.

Shared by the `api` fixture (every answer any test receives must be one its operation
declares) and tests/integration/api/test_openapi_contract.py (the document itself).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

ERROR_BODY = "#/components/schemas/ErrorBody"
# The readiness probe answers 503 with its own report (what a load balancer reads), not an error body.
OWN_ERROR_SCHEMAS = {("get", "/api/health", "503"): "#/components/schemas/Health"}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

Spec = dict[str, Any]


def operations(spec: Spec) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every (method, path template, operation) of the document."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def _success_problems(where: str, responses: dict[str, Any]) -> list[str]:
    success = [code for code in responses if code.startswith("2")]
    if not success:
        return [f"{where}: declares no success answer"]
    problems = []
    for code in success:
        content = responses[code].get("content") or {}
        if not content:
            problems.append(f"{where}: its {code} answer has no content schema")
        problems += [f"{where}: its {code} {media} answer has an untyped schema"
                     for media, body in content.items() if _untyped(body.get("schema") or {})]
    return problems


def _untyped(schema: dict[str, Any]) -> bool:
    """An empty schema, or a free-form object (what `-> dict` gives): it says nothing about the answer."""
    if "$ref" in schema or {"anyOf", "oneOf", "allOf"} & set(schema):
        return False
    return "type" not in schema or (schema["type"] == "object" and not schema.get("properties"))


def _error_problems(method: str, path: str, where: str, responses: dict[str, Any]) -> list[str]:
    problems = []
    for code, answer in responses.items():
        if code[0] not in "45":
            continue
        expected = OWN_ERROR_SCHEMAS.get((method, path, code), ERROR_BODY)
        schema = ((answer.get("content") or {}).get("application/json") or {}).get("schema") or {}
        if schema.get("$ref") != expected:
            problems.append(f"{where}: its {code} answer is not {expected.rsplit('/', 1)[-1]} ({schema})")
    return problems


def contract_violations(spec: Spec) -> list[str]:
    """What in the document breaks the contract (empty when it holds).

    Every operation: one success answer with a real schema; 422 (and 400, for a body
    that cannot be read) when it takes input; 401 and 403 when it needs credentials;
    every error answer an `ErrorBody`.
    """
    problems = []
    for method, path, operation in operations(spec):
        where = f"{method.upper()} {path}"
        responses = operation.get("responses", {})
        problems += _success_problems(where, responses)
        problems += _error_problems(method, path, where, responses)
        needed = set()
        if operation.get("parameters") or "requestBody" in operation:
            needed.add("422")
        if "requestBody" in operation:
            needed.add("400")
        if operation.get("security"):
            needed |= {"401", "403"}
        problems += [f"{where}: does not declare {code}" for code in sorted(needed - set(responses))]
    if "HTTPValidationError" in spec.get("components", {}).get("schemas", {}):
        problems.append("FastAPI's default HTTPValidationError is still in the document")
    return problems


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


def find_operation(spec: Spec, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The (path template, operation) a request was for, or None for paths outside the document."""
    for template, item in spec["paths"].items():
        if method.lower() in item and _template_regex(template).match(path):
            return template, item[method.lower()]
    return None


def undeclared_answer(spec: Spec, method: str, path: str, status: int) -> str | None:
    """Why an answer breaks the contract (its status is not declared by its operation), or None."""
    found = find_operation(spec, method, path)
    if found is None:
        return None
    template, operation = found
    declared = set(operation.get("responses", {}))
    if str(status) in declared:
        return None
    return (f"{method.upper()} {path} answered {status}, which {method.upper()} {template} does not declare "
            f"(declared: {', '.join(sorted(declared))}): add it to the route's responses")
