"""JSON answers encoded straight from plain data.

FastAPI turns a returned dict into JSON through ``jsonable_encoder``, which walks every
value in Python before ``json.dumps`` walks it again: for the store's rows (str, int,
float, None, nested lists and dicts) that first walk is pure loss, and it runs on the
event loop the stations share. The routes that answer with such rows return
:func:`json_answer` instead (declaring ``response_model`` for the OpenAPI schema).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


def json_answer(data: Any, status_code: int = 200) -> Response:
    """``data`` as compact JSON; NaN or infinity is refused, as Starlette's own does."""
    body = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Response(body.encode(), status_code=status_code, media_type="application/json")
