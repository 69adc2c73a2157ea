"""The REST API fuzzed with schemathesis: requests generated from the app's own /api/openapi.json (valid ones and
ones that break the schema), sent through its ASGI app, signed in with a real API token, against a SQLite store
holding events with evidence, cameras, protocol runs and deliveries. No request may get a server error, and
every answer must be one the schema lists: its status code, its content type and, for JSON, its shape.

Once as an admin (every camera, every scope) and once as an operator who may see the lobby camera only. Path
parameters are often swapped for real ids and names, so the generated requests reach real events and cameras
rather than a 404 every time. The number of examples is bounded so each run takes about half a minute."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gunwatch.users.store import UserStore
from web.populated_site import CAMERAS, PopulatedSite, populated_site

EXAMPLES = 40  # per operation and mode: enough to find what the schema allows, small enough for 2 shared cores
# Not negative_data_rejection: a query string is text, so `camera=false` is a camera named "false", not the
# boolean that schemathesis meant to break the schema with.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# The live stream never ends (it is an open SSE connection): tests/web/test_stream.py reads it event by event.
NOT_FUZZED = "/api/stream"
# Reproducible: the same requests on every run, so a failure seen once is seen again.
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[PopulatedSite]:
    built = populated_site(tmp_path)
    yield built
    built.close()


def api_schema(site: PopulatedSite, user: str) -> Any:
    """The app's OpenAPI as `user` reads it, with path parameters often swapped for real ids and names."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", site.app, headers=site.bearer(user))
    known = {"event_id": [event.id for event in site.events], "name": [*CAMERAS, "garage"]}

    @schema.hook
    def flatmap_path_parameters(context: Any, parameters: dict[str, Any] | None) -> Any:
        choices = {key: st.sampled_from([value, *known[key]]) for key, value in (parameters or {}).items()
                   if key in known}
        if not choices:
            return st.just(parameters)
        return st.fixed_dictionaries(choices).map(lambda chosen: {**parameters, **chosen})

    return schema.exclude(path=NOT_FUZZED)


def fuzz(site: PopulatedSite, user: str, headers: dict[str, str] | None = None,
         negative: bool = True) -> dict[str, dict[GenerationMode, Counter[int]]]:
    """Every operation, with requests that fit the schema and (`negative`) requests that break it, sent with
    `user`'s token (or `headers`); the checks raise on the first failure (with the request to reproduce it).
    Returns the status codes seen per operation and mode."""
    seen: dict[str, dict[GenerationMode, Counter[int]]] = {}
    for result in api_schema(site, user).get_all_operations():
        operation = result.ok()
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negative and breakable(operation) else [])
        for mode in modes:
            statuses = seen.setdefault(operation.label, {}).setdefault(mode, Counter())
            send_cases(operation.as_strategy(generation_mode=mode), headers or site.bearer(user), statuses)
    return seen


def statuses_of(seen: dict[str, dict[GenerationMode, Counter[int]]], mode: GenerationMode | None = None) -> set[int]:
    return {status for by_mode in seen.values() for each, counted in by_mode.items() if mode in (None, each)
            for status in counted}


def send_cases(cases: st.SearchStrategy[Any], headers: dict[str, str], statuses: Counter[int]) -> None:
    @FUZZ_SETTINGS
    @given(case=cases)
    def send(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        statuses[response.status_code] += 1

    send()


def breakable(operation: Any) -> bool:
    """Whether a request can break the operation's schema: it has a body, or a parameter that is more than any
    text (an event id in the path can be any text: there is nothing schema-violating to send in its place)."""
    for parameter in operation.iter_parameters():
        schema = {key: value for key, value in parameter.definition.get("schema", {}).items()
                  if key not in ("title", "description")}
        if schema != {"type": "string"}:
            return True
    return len(list(operation.body)) > 0


def test_an_admin_gets_no_server_error_and_only_what_the_schema_lists(site: PopulatedSite) -> None:
    seen = fuzz(site, "admin")
    assert len(seen) >= 9, sorted(seen)  # every route of the API but the stream (the schema lists them)
    # The generated requests reached real events and cameras, not only 404s and 422s.
    missed = {label: dict(by_mode) for label, by_mode in seen.items()
              if not any(200 <= status < 300 for status in by_mode[GenerationMode.POSITIVE])}
    assert missed == {}


def test_an_operator_of_one_camera_gets_no_server_error(site: PopulatedSite) -> None:
    seen = fuzz(site, "lobby_operator")
    assert len(seen) >= 9, sorted(seen)


def test_a_revoked_token_gets_the_documented_401_and_nothing_else(site: PopulatedSite) -> None:
    UserStore(site.store).revoke_token("admin-token")
    seen = fuzz(site, "operator", headers=site.bearer("admin"))  # the schema is read with a token that works
    assert statuses_of(seen, GenerationMode.POSITIVE) == {401}
    # A body that is not JSON is refused before the token is looked at (FastAPI reads the body first): still a
    # refusal, nothing done.
    assert statuses_of(seen) <= {400, 401, 422}


def test_a_request_refused_before_its_route_runs_says_why_in_words(site: PopulatedSite) -> None:
    client = TestClient(site.app)
    admin = site.bearer("admin")
    answer = client.get("/api/events", params={"since": "yesterday", "limit": "0"}, headers=admin)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert "query parameter since: " in detail and "(got 'yesterday')" in detail and "query parameter limit" in detail
    event = site.events[0]
    answer = client.post(f"/api/events/{event.id}/actions/explode", headers=admin)
    assert answer.status_code == 422 and answer.json()["detail"].startswith("path parameter action: Input should be")
    answer = client.post(f"/api/events/{event.id}/actions/ack", json={"note": 5}, headers=admin)
    assert answer.status_code == 422 and answer.json()["detail"].startswith("body note: "), answer.text
    answer = client.post(f"/api/events/{event.id}/actions/ack", content=b"{not json", headers={
        **admin, "Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["detail"].startswith("body: not JSON ("), answer.text
