"""The routing table: method and path pattern to handler, with per-route limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from attrs import frozen

from transport.http import HttpError
from transport.server.exchange import Request, Response, decode_path

__all__ = ["KNOWN_METHODS", "Handler", "NoRouteError", "Route", "RouteMatch", "Router"]

Handler = Callable[[Request], Awaitable[Response]]

# Methods of RFC 9110 section 9; any other method is answered with 501.
KNOWN_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}
)


@frozen(kw_only=True)
class Route:
    """One entry of the table."""

    method: str
    pattern: str
    handler: Handler
    max_body_bytes: int | None
    cancel_on_disconnect: bool


@frozen(kw_only=True)
class RouteMatch:
    """The route chosen for a request, with its decoded path parameters."""

    route: Route
    params: dict[str, str]


class NoRouteError(HttpError):
    """No route takes the request (404, 405, 501, or a path parameter that does not decode).

    `pattern` is the matched path pattern, if any: what the access log shows
    instead of the raw path, which may hold a secret (a join-link token).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        pattern: str | None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(status, code, message, headers=headers)
        self.pattern = pattern


def _segments(pattern: str) -> tuple[str, ...]:
    if not pattern.startswith("/"):
        raise ValueError(f"route pattern must start with '/': {pattern!r}")
    return tuple(pattern[1:].split("/"))


class Router:
    """Maps `(method, path)` to handlers; `{name}` in a pattern matches one segment."""

    def __init__(self) -> None:
        self._static: dict[str, dict[str, Route]] = {}
        self._dynamic: list[tuple[tuple[str, ...], str, dict[str, Route]]] = []

    def add(
        self,
        method: str,
        pattern: str,
        handler: Handler,
        *,
        max_body_bytes: int | None = None,
        cancel_on_disconnect: bool = False,
    ) -> None:
        """Register `handler` for `method` on `pattern`, e.g. `/rooms/{room}/messages`.

        `cancel_on_disconnect=True` (long polls) cancels the handler when the
        client closes the connection while it runs. Raises ValueError for a
        duplicate route, an unknown method or a malformed pattern.
        """
        if method not in KNOWN_METHODS:
            raise ValueError(f"unknown method {method}")
        route = Route(
            method=method,
            pattern=pattern,
            handler=handler,
            max_body_bytes=max_body_bytes,
            cancel_on_disconnect=cancel_on_disconnect,
        )
        segments = _segments(pattern)
        if any("{" in s for s in segments):
            for s in segments:
                if ("{" in s or "}" in s) and not (s.startswith("{") and s.endswith("}")):
                    raise ValueError(f"a parameter must be a whole segment: {pattern!r}")
            existing = [m for known, _, m in self._dynamic if known == segments]
            if existing:
                methods = existing[0]
            else:
                methods = {}
                self._dynamic.append((segments, pattern, methods))
        else:
            methods = self._static.setdefault(pattern, {})
        if method in methods:
            raise ValueError(f"duplicate route {method} {pattern}")
        methods[method] = route

    def _candidates(self, raw_path: str) -> tuple[str, dict[str, Route], dict[str, str]] | None:
        """The pattern matching `raw_path`, its routes by method, its raw parameters."""
        static = self._static.get(raw_path)
        if static is not None:
            return raw_path, static, {}
        parts = raw_path[1:].split("/")
        for segments, pattern, methods in self._dynamic:
            if len(segments) != len(parts):
                continue
            params: dict[str, str] = {}
            for segment, part in zip(segments, parts, strict=True):
                if segment.startswith("{"):
                    if not part:
                        break
                    params[segment[1:-1]] = part
                elif segment != part:
                    break
            else:
                return pattern, methods, params
        return None

    def resolve(self, method: str, raw_path: str) -> RouteMatch:
        """Find the route for a request (HEAD falls back to GET).

        Raises NoRouteError: 501 `not_implemented` for an unknown method, 404
        `not_found` for an unknown path, 405 `method_not_allowed` with `Allow`,
        400 `bad_request` when a path parameter does not decode.
        """
        found = self._candidates(raw_path)
        pattern = found[0] if found is not None else None
        if method not in KNOWN_METHODS:
            raise NoRouteError(
                501, "not_implemented", f"method {method} is not implemented", pattern=pattern
            )
        if found is None:
            raise NoRouteError(404, "not_found", "no such path", pattern=None)
        pattern, methods, raw_params = found
        route = methods.get(method)
        if route is None and method == "HEAD":
            route = methods.get("GET")
        if route is None:
            allowed = set(methods)
            if "GET" in allowed:
                allowed.add("HEAD")
            allow = ", ".join(sorted(allowed))
            raise NoRouteError(
                405,
                "method_not_allowed",
                f"{method} is not allowed here",
                pattern=pattern,
                headers=(("Allow", allow),),
            )
        try:
            params = {name: decode_path(value) for name, value in raw_params.items()}
        except HttpError as exc:
            raise NoRouteError(exc.status, exc.code, exc.message, pattern=pattern) from None
        return RouteMatch(route=route, params=params)
