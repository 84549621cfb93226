"""functions-framework entry point of the dead-letter sink (``--target deadletter``)."""

import os

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from functions.deadletter.app import build_app

_app = build_app(os.environ)  # reads settings; opens no connection at import


@functions_framework.aio.http
async def deadletter(request: Request) -> Response:
    return await _app.handle(request)
