"""The frames between the studio's router and its model servers.

HTTP once, at the edge: behind it the router and a model server exchange length-prefixed
frames over one TCP connection, many in flight at once (pipelined), answered in the order
they were sent. Parsing a frame is two ``struct`` calls and a small JSON header, a fraction
of what parsing HTTP twice would cost on the hot path.

Request: ``!II`` (header length, body length), the JSON header, the body.
Response: ``!HHI`` (status, content-type length, body length), the content type, the body.
"""

from __future__ import annotations

import json
import struct
from typing import Any

REQUEST = struct.Struct("!II")
RESPONSE = struct.Struct("!HHI")

#: Operations a model server answers.
INVOKE = "invoke"  # the SageMaker body (CSV or JSON) → predictions
INFER = "infer"  # a v2 inference request
META = "meta"  # v2 model metadata
PING = "ping"  # alive, and which models are loaded


def request_frame(op: str, body: bytes = b"", **head: Any) -> bytes:
    header = json.dumps({"op": op, **head}, separators=(",", ":")).encode()
    return REQUEST.pack(len(header), len(body)) + header + body


def response_frame(status: int, content_type: str, body: bytes) -> bytes:
    ctype = content_type.encode()
    return RESPONSE.pack(status, len(ctype), len(body)) + ctype + body


def error_body(code: str, message: str, field: str | None = None) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "field": field}}).encode()


def take_requests(buffer: bytearray) -> list[tuple[dict[str, Any], bytes]]:
    """The complete request frames at the head of ``buffer``, removed from it."""
    out = []
    offset = 0
    size = len(buffer)
    while size - offset >= REQUEST.size:
        head_len, body_len = REQUEST.unpack_from(buffer, offset)
        end = offset + REQUEST.size + head_len + body_len
        if end > size:
            break
        start = offset + REQUEST.size
        head = json.loads(bytes(buffer[start : start + head_len]))
        body = bytes(buffer[start + head_len : end])
        out.append((head, body))
        offset = end
    if offset:
        del buffer[:offset]
    return out


def take_responses(buffer: bytearray) -> list[tuple[int, str, bytes]]:
    """The complete response frames at the head of ``buffer``, removed from it."""
    out = []
    offset = 0
    size = len(buffer)
    while size - offset >= RESPONSE.size:
        status, ct_len, body_len = RESPONSE.unpack_from(buffer, offset)
        end = offset + RESPONSE.size + ct_len + body_len
        if end > size:
            break
        start = offset + RESPONSE.size
        ctype = bytes(buffer[start : start + ct_len]).decode()
        out.append((status, ctype, bytes(buffer[start + ct_len : end])))
        offset = end
    if offset:
        del buffer[:offset]
    return out
