"""Check requests and responses against Domino's vendored OpenAPI specs (``spec/``).

Schema validation is openapi-schema-validator's OAS 3.0 validators (built on jsonschema),
resolving ``$ref`` inside the spec document itself. On top of the spec, two rules make the
checks able to fail on the drifts that matter to the provider:

- request bodies may carry only the fields their schema lists (``additionalProperties: false``
  on ``NewJobV1``, ``TagToAddV1``, ``GoalToLinkV1``; the stop request may add ``projectId``, which
  python-domino sends too), and a query parameter the operation does not list is an error;
- an error body must carry its message field (``error``, ``errors`` + ``requestId``, or the v4
  ``message``): the spec's error schemas list that field without requiring it.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

SPEC_DIR = Path(__file__).parent / "spec"
PUBLIC_SPEC = "public-api-6.2.0-jobs.json"
V4_SPEC = "internal-v4-jobs-subset.json"
#: Request bodies that must not carry unlisted fields, with the extra fields Domino accepts anyway.
STRICT_REQUEST_BODIES = {
    "NewJobV1": {},
    "TagToAddV1": {},
    "GoalToLinkV1": {},
    "domino.jobs.web.JobStopOperationRequest": {"projectId": {"type": "string"}},
}
_ERROR_FIELDS = {"error": ["error"], "errors": ["errors", "requestId"], "message": ["message"]}


class ContractError(AssertionError):
    """A request or response that breaks the published contract; the message says where."""


@dataclass(frozen=True)
class Operation:
    """One operation of a spec: where it lives and what it accepts and answers."""

    spec: str
    method: str
    template: str
    pointer: str  # JSON pointer to the operation object inside the spec
    regex: re.Pattern[str]
    parameters: list[dict[str, Any]] = field(hash=False)
    operation: dict[str, Any] = field(hash=False)

    @property
    def name(self) -> str:
        """The spec's operationId."""
        return str(self.operation.get("operationId"))


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@cache
def _documents() -> dict[str, dict[str, Any]]:
    documents = {}
    for name in (PUBLIC_SPEC, V4_SPEC):
        document = json.loads((SPEC_DIR / name).read_text())
        for schema_name, extra in STRICT_REQUEST_BODIES.items():
            schema = document["components"]["schemas"].get(schema_name)
            if schema is not None:
                schema = copy.deepcopy(schema)
                schema["properties"] = {**schema["properties"], **extra}
                document["components"]["schemas"][f"{schema_name}.strict"] = {
                    **schema,
                    "additionalProperties": False,
                }
        documents[name] = document
    return documents


@cache
def _registry() -> Registry:
    registry: Registry = Registry()
    for name, document in _documents().items():
        registry = registry.with_resource(
            name, Resource.from_contents(document, default_specification=DRAFT4)
        )
    return registry


@cache
def operations() -> tuple[Operation, ...]:
    """Every operation of both specs, with v4 paths under ``/v4`` (the v4 spec's server)."""
    found = []
    for name, document in _documents().items():
        prefix = "/v4" if name == V4_SPEC else ""
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                if not isinstance(operation, dict) or method == "parameters":
                    continue
                template = prefix + path
                regex = re.compile(
                    "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
                )
                found.append(
                    Operation(
                        spec=name,
                        method=method.upper(),
                        template=template,
                        pointer=f"/paths/{_escape(path)}/{method}",
                        regex=regex,
                        parameters=operation.get("parameters", []),
                        operation=operation,
                    )
                )
    return tuple(found)


def operation_for(method: str, path: str) -> tuple[Operation, dict[str, str]]:
    """The operation a request hits, and its path parameters (percent-decoded)."""
    for operation in operations():
        if operation.method == method.upper():
            match = operation.regex.match(path)
            if match:
                return operation, {key: unquote(value) for key, value in match.groupdict().items()}
    raise ContractError(f"{method} {path}: no such operation in the published specs")


def operation_named(operation_id: str) -> Operation:
    """The operation with this ``operationId``."""
    for operation in operations():
        if operation.name == operation_id:
            return operation
    raise KeyError(operation_id)


def _validate(spec: str, pointer: str, instance: Any, *, write: bool, where: str) -> None:
    validator_class = OAS30WriteValidator if write else OAS30ReadValidator
    validator = validator_class(
        {"$ref": f"{spec}#{pointer}"}, registry=_registry(), format_checker=oas30_format_checker
    )
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
    if errors:
        details = "; ".join(_describe(error) for error in errors[:5])
        raise ContractError(f"{where}: {details}")


def _describe(error: ValidationError) -> str:
    location = "/".join(str(part) for part in error.absolute_path) or "(root)"
    return f"at {location}: {error.message}"


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            return raw
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    return raw


def check_request(method: str, path: str, query: str = "", body: str | bytes | None = None) -> Operation:
    """Raise :class:`ContractError` unless the request is one the published specs accept."""
    operation, path_values = operation_for(method, path)
    where = f"{method} {operation.template}"
    listed = {(parameter["in"], parameter["name"]): parameter for parameter in operation.parameters}
    for name, value in path_values.items():
        _check_parameter(operation, listed[("path", name)], value, where)
    given: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        given.setdefault(name, []).append(value)
    for name, values in given.items():
        parameter = listed.get(("query", name))
        if parameter is None:
            known = sorted(n for (place, n) in listed if place == "query")
            raise ContractError(f"{where}: query parameter '{name}' is not in the spec (it lists {known})")
        for value in values:
            _check_parameter(operation, parameter, value, where)
    for (place, name), parameter in listed.items():
        if place == "query" and parameter.get("required") and name not in given:
            raise ContractError(f"{where}: required query parameter '{name}' is missing")
    request_body = operation.operation.get("requestBody")
    if not body:
        if request_body and request_body.get("required"):
            raise ContractError(f"{where}: the request body is required")
        return operation
    if request_body is None:
        raise ContractError(f"{where}: the spec takes no request body, got {body!r:.200}")
    try:
        payload = json.loads(body)
    except ValueError:
        raise ContractError(f"{where}: the request body is not JSON: {body!r:.200}") from None
    schema = request_body["content"]["application/json"]["schema"]
    pointer = f"{operation.pointer}/requestBody/content/application~1json/schema"
    ref = schema.get("$ref", "")
    schema_name = ref.rsplit("/", 1)[-1]
    if schema_name in STRICT_REQUEST_BODIES:
        pointer = f"/components/schemas/{_escape(schema_name + '.strict')}"
    _validate(operation.spec, pointer, payload, write=True, where=f"{where} request body")
    return operation


def _check_parameter(operation: Operation, parameter: dict[str, Any], raw: str, where: str) -> None:
    schema = parameter.get("schema", {})
    index = operation.parameters.index(parameter)
    pointer = f"{operation.pointer}/parameters/{index}/schema"
    where = f"{where} {parameter['in']} parameter '{parameter['name']}'"
    if (
        schema.get("enum")
        and parameter["in"] == "query"
        and "Case insensitive" in parameter.get("description", "")
    ):
        if not any(raw.casefold() == choice.casefold() for choice in schema["enum"]):
            raise ContractError(f"{where}: {raw!r} is not one of {schema['enum']}")
        return
    _validate(operation.spec, pointer, _coerce(raw, schema), write=True, where=where)


def check_response(method: str, path: str, status: int, payload: Any) -> Operation:
    """Raise :class:`ContractError` unless ``payload`` is what the spec says ``status`` answers."""
    operation, _ = operation_for(method, path)
    where = f"{method} {operation.template} -> {status}"
    responses = operation.operation["responses"]
    document = _documents()[operation.spec]
    key = str(status) if str(status) in responses else None
    if key is None:
        if status < 400:
            raise ContractError(f"{where}: the spec lists no {status} answer")
        pointer = _generic_error_pointer(operation.spec, status)
    else:
        pointer = f"{operation.pointer}/responses/{key}"
        response = responses[key]
        if "$ref" in response:
            pointer = response["$ref"][1:]
            response = _resolve(document, pointer)
        content = response.get("content")
        if content is None:
            return operation
        pointer += "/content/application~1json/schema"
    _validate(operation.spec, pointer, payload, write=False, where=where)
    if status >= 400:
        _check_error_fields(operation.spec, status, payload, where)
    return operation


def _generic_error_pointer(spec: str, status: int) -> str:
    if spec == V4_SPEC:
        return "/components/schemas/domino.api.ErrorResponse"
    reference = "401" if status in (401, 403) else "400"
    return f"/components/responses/{reference}/content/application~1json/schema"


def _check_error_fields(spec: str, status: int, payload: Any, where: str) -> None:
    if spec == V4_SPEC:
        wanted = _ERROR_FIELDS["message"]
    elif status in (401, 403):
        wanted = _ERROR_FIELDS["errors"]
    else:
        wanted = _ERROR_FIELDS["error"]
    missing = [name for name in wanted if not isinstance(payload, dict) or name not in payload]
    if missing:
        raise ContractError(f"{where}: the error body lacks {missing}: {payload!r:.200}")


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for token in pointer.strip("/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node
