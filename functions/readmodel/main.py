"""functions-framework entry point of the read model; everything else lives in ``app``."""

import os

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from functions.readmodel.app import build_app

_app = build_app(os.environ)  # reads settings; opens no connection at import


@functions_framework.aio.http
async def readmodel(request: Request) -> Response:
    return await _app.handle(request)
