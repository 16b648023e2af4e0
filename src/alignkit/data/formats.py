"""Row schemas: what fields a row of each kind of data must have. Errors name the row's file:line."""

from __future__ import annotations

from alignkit.data.readers import Row
from alignkit.errors import UserError

TEXT_FIELDS = ("text", "content")


def text_of(row: Row, field: str | None = None) -> str:
    """The document of a text row: `field` if given, else `text`, else `content`."""
    candidates = (field,) if field else TEXT_FIELDS
    for name in candidates:
        if name in row.fields:
            value = row.fields[name]
            if not isinstance(value, str):
                raise UserError(f"{row.source}: field '{name}' should be a string, got {type(value).__name__}")
            return value
    wanted = f"'{field}'" if field else "'text' (or 'content')"
    found = ", ".join(sorted(map(str, row.fields))) or "none"
    raise UserError(f"{row.source}: expected a {wanted} string field; found fields: {found}")
