"""Routing table: static and parameter routes, 404/405/501, decoding of parameters."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transport.http import HttpError
from transport.server import Request, Response, Router, empty
from transport.server.router import RouteMatch


async def ok(request: Request) -> Response:
    return empty()


def make() -> Router:
    router = Router()
    router.add("GET", "/rooms", ok)
    router.add("GET", "/rooms/{room}/messages", ok, max_body_bytes=10)
    router.add("POST", "/rooms/{room}/messages", ok)
    return router


def resolve_error(router: Router, method: str, path: str) -> HttpError:
    with pytest.raises(HttpError) as caught:
        router.resolve(method, path)
    return caught.value


def test_parameters_are_percent_decoded_utf8_within_one_segment() -> None:
    match = make().resolve("GET", "/rooms/%D0%BA%D0%BE%D1%82%2Fx/messages")
    assert match.params == {"room": "кот/x"}
    assert match.route.max_body_bytes == 10


@given(st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=20))
def test_any_room_name_round_trips_through_percent_encoding(name: str) -> None:
    match = make().resolve("POST", f"/rooms/{quote(name, safe='')}/messages")
    assert isinstance(match, RouteMatch)
    assert match.params == {"room": name}


def test_unknown_path_method_and_wrong_method() -> None:
    router = make()
    assert resolve_error(router, "GET", "/nope").status == 404
    assert resolve_error(router, "GET", "/rooms//messages").status == 404
    assert resolve_error(router, "BREW", "/rooms").status == 501
    wrong = resolve_error(router, "DELETE", "/rooms/a/messages")
    assert (wrong.status, wrong.code) == (405, "method_not_allowed")
    assert wrong.headers == (("Allow", "GET, HEAD, POST"),)
    assert router.resolve("HEAD", "/rooms").route.method == "GET"


def test_invalid_utf8_or_control_characters_in_a_parameter_are_400() -> None:
    assert resolve_error(make(), "GET", "/rooms/%ff/messages").status == 400
    assert resolve_error(make(), "GET", "/rooms/a%00b/messages").status == 400


def test_duplicate_or_malformed_routes_are_refused() -> None:
    router = make()
    with pytest.raises(ValueError, match="duplicate"):
        router.add("GET", "/rooms", ok)
    with pytest.raises(ValueError, match="whole segment"):
        router.add("GET", "/a/x{id}", ok)
    with pytest.raises(ValueError, match="unknown method"):
        router.add("BREW", "/a", ok)


def test_handlers_are_awaitable() -> None:
    match = make().resolve("GET", "/rooms")
    assert asyncio.iscoroutinefunction(match.route.handler)
