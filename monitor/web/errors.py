"""The error responses the HTTP API really gives, declared once for the OpenAPI schema.

Every error body is `{"error": "<what went wrong and what to do>"}` (the app's exception
handler). Any request may get 400 (a NUL character in the URL, monitor/web/limits.py); any
request with a body may get 413 (over the size limit); FastAPI's own validation answers 422
with its `detail` list.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from monitor.store.orders import Ambiguous

Responses = dict[int | str, dict[str, Any]]


class ErrorBody(BaseModel):
    error: str


def _doc(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


BAD_REQUEST: Responses = {400: _doc("Malformed request (a NUL character, a bad parameter or body)")}
TOO_LARGE: Responses = {413: _doc("Request body over the configured limit")}
AUTH: Responses = {
    401: _doc("A bearer token (or a signed-in session) is needed"),
    403: _doc("The identity's role does not allow this"),
}
NOT_FOUND: Responses = {404: _doc("No such alert, shipment or action")}
CONFLICT: Responses = {409: _doc("The alert is not in a state that allows this action")}
AMBIGUOUS_ORDER: Responses = {
    409: _doc("Orders of several platforms have this id: ask again with ?platform= (listed)")
}
UNAVAILABLE: Responses = {503: _doc("Not ready: the store, the scheduler or a job has a problem")}
PUSH: Responses = {
    401: _doc("The push's signature is missing or wrong; nothing was stored"),
    404: _doc("No such tracking API, or no account of it is configured"),
    500: _doc("This push's data could not be stored; nothing of it was kept: send it again"),
    503: _doc("The store cannot take pushes now (Retry-After); nothing was kept: send it again"),
}


def ambiguous_order(found: Ambiguous) -> JSONResponse:
    """The 409 for an order id that several platforms share, listing them so that the caller
    can ask again with ?platform=."""
    return JSONResponse({"error": str(found), "platforms": list(found.platforms)}, status_code=409)
