"""Rooms, links and requests as documented: bodies that may be left out are optional."""

from __future__ import annotations

from transport.api.routes import openapi_document


def test_optional_bodies_are_not_required() -> None:
    paths = openapi_document()["paths"]
    for path in ("/rooms/{room}/leave", "/rooms/{room}/links", "/join/{token}"):
        assert paths[path]["post"]["requestBody"]["required"] is False, path
    assert paths["/users/{name}/report"]["post"]["requestBody"]["required"] is False
    assert paths["/rooms"]["post"]["requestBody"]["required"] is True
