"""JSON on the hot paths (payloads, published columns, service responses): orjson, several times
faster than the standard library, which stays the reader of last resort for what orjson refuses
(the NaN and Infinity literals `json.dumps` writes)."""
from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON; numpy scalars and arrays become numbers and lists."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)
