"""The API's own documentation, for signed-in users only: /api/openapi.json and the Swagger UI page /api/docs.

Swagger UI is vendored (static/vendor/swagger-ui, with its license, version and hashes in VENDORED.md) and
served from here: no CDN, so the page works without Internet access and loads no script from elsewhere. The
page has no inline script, so it runs under a Content-Security-Policy that allows this server's scripts only.

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)   # FastAPI's own pages load from a CDN
    app.include_router(docs_router(principal_dependency))
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from gunwatch.users.principal import Principal

SWAGGER_UI = Path(__file__).parent / "static" / "vendor" / "swagger-ui"
SWAGGER_UI_VERSION = "5.35.0"
# name -> (media type, sha256): the files the page loads, and nothing else is served from the folder.
ASSETS = {
    "swagger-ui-bundle.js": ("text/javascript",
                             "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2"),
    "swagger-ui.css": ("text/css", "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d"),
}
INITIALIZER = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
});
"""
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gunwatch API</title>
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/docs/assets/initializer.js"></script>
</body>
</html>
"""
# Swagger UI sets inline styles and shows its logo as a data: image; scripts come from here only.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def docs_router(principal_dependency: Callable[..., Any]) -> APIRouter:
    router = APIRouter(prefix="/api", include_in_schema=False)
    signed_in = Depends(principal_dependency)

    @router.get("/openapi.json")
    def openapi(request: Request, principal: Principal = signed_in) -> JSONResponse:
        return JSONResponse(request.app.openapi(), headers={"Cache-Control": "no-store"})

    @router.get("/docs")
    def page(principal: Principal = signed_in) -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-store"})

    @router.get("/docs/assets/{name}")
    def asset(name: str, principal: Principal = signed_in) -> Response:
        if name == "initializer.js":
            return Response(INITIALIZER, media_type="text/javascript")
        if name not in ASSETS:  # a fixed list: no path from the URL ever reaches the file system
            raise HTTPException(404, f"no asset {name}")
        media_type, _ = ASSETS[name]
        return FileResponse(SWAGGER_UI / name, media_type=media_type,
                            headers={"Cache-Control": "private, max-age=86400"})

    return router
