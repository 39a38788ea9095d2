"""JSON Schemas of the API's bodies for the OpenAPI document, built from the settings' own
validators (wan.config), so the published schema and the validation never disagree.

Validation stays wan.config's: it is more lenient than a schema can say (numbers as text,
"yes"/"no" flags, Deforum keys and old names), so the settings schema describes the canonical
form and allows other keys (`additionalProperties`), which the server checks and names.
"""

from __future__ import annotations

from typing import Any

from ..config import all_specs, fields, files


def _value_schema(check: Any) -> dict[str, Any]:
    if isinstance(check, fields.Integer):
        schema: dict[str, Any] = {"type": "integer", "minimum": check.minimum, "maximum": check.maximum}
        if isinstance(check, fields.MultipleOf):
            schema["multipleOf"] = check.step
        return {"anyOf": [schema, {"type": "null"}]} if check.optional else schema
    if isinstance(check, fields.Number):
        schema = {"type": "number", "maximum": check.maximum}
        schema["exclusiveMinimum" if check.exclusive_minimum else "minimum"] = check.minimum
        return {"anyOf": [schema, {"type": "null"}]} if check.optional else schema
    if isinstance(check, fields.Choice):
        return {"type": "string", "enum": list(check.options)}
    if isinstance(check, fields.Flag):
        return {"type": "boolean"}
    if isinstance(check, fields.Text):
        return {"type": "string", "maxLength": check.max_length}
    if isinstance(check, (files.LocalFile, files.LocalFolder)):
        return {"type": "string", "maxLength": 4096}
    own = getattr(check, "json_schema", None)  # a validator of a structured value says its schema
    return own() if callable(own) else {}


def settings_schema() -> dict[str, Any]:
    """The schema of one settings object (every key optional: defaults apply)."""
    properties: dict[str, Any] = {}
    for _group, spec in all_specs():
        schema = _value_schema(spec.check)
        if spec.key == "prompts":
            schema = {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "example": {"0": "a forest"},
            }
        schema["title"] = spec.label
        schema["description"] = f"{spec.help}. Allowed: {spec.check.describe()}."
        properties[spec.key] = schema
    return {"type": "object", "properties": properties, "additionalProperties": True}


ERROR = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "value": {}, "message": {"type": "string"}},
            },
        },
    },
    "required": ["detail"],
}

ENHANCE_REQUEST = {
    "type": "object",
    "required": ["prompts"],
    "properties": {
        "prompts": {"type": "array", "items": {"type": "string", "maxLength": 10_000}, "maxItems": 1000},
        "contexts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"movement": {"type": "string"}, "style": {"type": "string"}},
            },
        },
        "settings": {"type": "object", "description": "enhance_* and style_strength settings"},
    },
    "additionalProperties": False,
}


def body(schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI requestBody for a JSON schema."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for the error codes a route can answer."""
    words = {
        400: "Bad request",
        401: "Unauthorized",
        403: "Refused by the server's rule",
        404: "Not found",
        409: "Conflict",
        413: "Too large",
        415: "Not JSON",
        422: "Invalid settings",
        503: "This environment cannot generate",
    }
    return {
        code: {"description": words[code], "content": {"application/json": {"schema": ERROR}}}
        for code in codes
    }
