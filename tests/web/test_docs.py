"""/api/openapi.json and /api/docs: for signed-in users only, Swagger UI served from the vendored files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gunwatch.web.docs import ASSETS, SWAGGER_UI, SWAGGER_UI_VERSION, docs_router
from web.api_site import api_site, as_user, sqlite_store, test_principal


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with sqlite_store(tmp_path) as store:
        site = api_site(store)
        site.app.include_router(docs_router(test_principal))
        with TestClient(site.app) as client:
            yield client


def test_the_docs_need_a_signed_in_user(client: TestClient) -> None:
    for path in ("/api/openapi.json", "/api/docs", "/api/docs/assets/swagger-ui-bundle.js",
                 "/api/docs/assets/initializer.js"):
        assert client.get(path).status_code == 401, path


def test_the_openapi_document_lists_the_api_and_not_the_docs(client: TestClient) -> None:
    schema = client.get("/api/openapi.json", headers=as_user("vera")).json()
    assert "/api/events" in schema["paths"] and "/api/stream" not in schema["paths"]  # no feed in this site
    assert not any(path.startswith("/api/docs") or path == "/api/openapi.json" for path in schema["paths"])


def test_the_page_loads_only_the_vendored_files_under_a_strict_policy(client: TestClient) -> None:
    vera = as_user("vera")
    page = client.get("/api/docs", headers=vera)
    assert page.status_code == 200 and "script-src 'self';" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and "http" not in page.text  # no inline script, nothing from elsewhere
    for name, (media_type, _) in ASSETS.items():
        asset = client.get(f"/api/docs/assets/{name}", headers=vera)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(media_type)
        assert asset.content == (SWAGGER_UI / name).read_bytes()
    assert "SwaggerUIBundle" in client.get("/api/docs/assets/initializer.js", headers=vera).text
    for name in ("LICENSE", "VENDORED.md", "..%2F..%2Fdocs.py", "swagger-ui.css.map"):
        assert client.get(f"/api/docs/assets/{name}", headers=vera).status_code == 404, name


def test_the_vendored_files_are_the_pinned_release_with_its_license() -> None:
    for name, (_, sha256) in ASSETS.items():
        assert hashlib.sha256((SWAGGER_UI / name).read_bytes()).hexdigest() == sha256, name
        assert sha256 in (SWAGGER_UI / "VENDORED.md").read_text()
    assert f"Swagger UI {SWAGGER_UI_VERSION}" in (SWAGGER_UI / "VENDORED.md").read_text()
    assert "Apache License" in (SWAGGER_UI / "LICENSE").read_text()
    assert f"swagger-ui-dist@{SWAGGER_UI_VERSION}" in (SWAGGER_UI / "VENDORED.md").read_text()
