"""The later endpoints (rooms, links, comments, schedule, reports, files) and their contract.

A live server (in a thread, 127.0.0.1:0, temporary data directory) runs one
scenario through every later endpoint: the successes and the errors each one
documents. Every answer is checked against the document the server itself
serves: the status must be listed for the operation (not only `default`),
a JSON body must match the schema of that status, and required headers must
be present. The tests that read what the scenario saw (the document the
other way round, the events delivered) use the `contract` fixture of
`conftest.py`.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jsonschema_rs
from attrs import define, field

from tests.transport.api.support import LiveServer, quick_settings
from transport.api.moderation import MAX_REPORT_REASON_CHARS

# The endpoints of issues 6, 7 and 8 (API.md): rooms, links, comments,
# scheduled messages, reports and files.
LATER_ENDPOINTS = {
    ("get", "/scheduled"),
    ("delete", "/scheduled/{id}"),
    ("post", "/messages/{id}/comments"),
    ("get", "/messages/{id}/comments"),
    ("post", "/rooms"),
    ("get", "/rooms"),
    ("post", "/rooms/{room}/members"),
    ("post", "/rooms/{room}/leave"),
    ("post", "/rooms/{room}/links"),
    ("delete", "/rooms/{room}/links/{token}"),
    ("post", "/join/{token}"),
    ("get", "/rooms/{room}/requests"),
    ("post", "/rooms/{room}/requests/{name}"),
    ("post", "/users/{name}/report"),
    ("post", "/files"),
    ("get", "/messages/{id}/file"),
    # Issue 11: one's own sessions, and blocking.
    ("get", "/sessions"),
    ("delete", "/sessions/{id}"),
    ("post", "/users/{name}/block"),
    ("delete", "/users/{name}/block"),
    ("get", "/blocked"),
}
# Event types of the later issues a client may see (API.md, Synchronisation).
LATER_EVENT_TYPES = {
    "message.commented",
    "room.join_requested",
    "room.join_decided",
    "message.scheduled",
    "message.cancelled",
    "message.schedule_failed",
    "user.banned",
    "user.blocked",
    "user.unblocked",
}
MAX_FILE_BYTES = 4096
RATE_LIMIT = 3
REPORT_THRESHOLD = 3


@define
class Contract:
    """Calls the live server and checks every answer against the served document."""

    server: LiveServer
    document: dict[str, Any]
    seen: set[tuple[str, str, str]] = field(factory=set)
    events: dict[str, list[dict[str, Any]]] = field(factory=dict)

    def validator(self, schema: Mapping[str, Any]) -> jsonschema_rs.Validator:
        root = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.document["components"],
            "allOf": [schema],
        }
        return jsonschema_rs.Draft202012Validator(root)

    def call(
        self,
        method: str,
        template: str,
        token: str | None,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        json_body: object = None,
        raw: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """One request; returns status, headers (lower-cased) and the JSON or raw body."""
        path = template
        for name, value in (params or {}).items():
            path = path.replace(f"{{{name}}}", quote(value, safe=""))
        if query:
            path += "?" + urlencode(query)
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        payload: bytes | Iterator[bytes] | None = raw
        if json_body is not None:
            sent["Content-Type"] = "application/json"
            payload = json.dumps(json_body).encode()
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            status, body = response.status, response.read()
            got = {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()
        decoded = self.check(method.lower(), template, status, got, body)
        return status, got, decoded

    def check(
        self, method: str, template: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> Any:
        operation = self.document["paths"][template][method]
        responses = operation["responses"]
        assert str(status) in responses, (method, template, status, body[:200])
        self.seen.add((method, template, str(status)))
        response = responses[str(status)]
        for name, header in response.get("headers", {}).items():
            if header.get("required"):
                assert name.lower() in headers, (method, template, status, name)
                assert self.validator(header["schema"]).is_valid(headers[name.lower()])
        content = response.get("content")
        if content is None:
            assert body == b"", (method, template, status)
            return None
        if "application/json" not in content:
            return body
        assert headers["content-type"].startswith("application/json")
        decoded = json.loads(body)
        errors = list(self.validator(content["application/json"]["schema"]).iter_errors(decoded))
        assert not errors, (method, template, status, decoded, errors)
        return decoded

    def connect(self, name: str) -> str:
        status, _, body = self.call(
            "POST", "/connect", None, json_body={"name": name, "password": "pw"}
        )
        assert status in (200, 201)
        token: str = body["token"]
        return token

    def collect_events(self, name: str, token: str) -> None:
        """Every event the user may see, each checked against the Event schema."""
        event = self.validator({"$ref": "#/components/schemas/Event"})
        collected: list[dict[str, Any]] = []
        after = 0
        while True:
            status, _, page = self.call(
                "GET", "/events", token, query={"after": str(after), "timeout": "0"}
            )
            assert status == 200
            for item in page["events"]:
                errors = list(event.iter_errors(item))
                assert not errors, (item, errors)
            collected += page["events"]
            if page["next"] == after:
                break
            after = page["next"]
        self.events[name] = collected


def wait_until(condition: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def run_scenario(api: Contract) -> None:
    alice, bob, carol = api.connect("alice"), api.connect("bob"), api.connect("carol")
    dave, mallory, eve = api.connect("dave"), api.connect("mallory"), api.connect("eve")

    # -- rooms
    status, _, created = api.call(
        "POST", "/rooms", alice, json_body={"name": "Проект Ω", "members": ["bob"]}
    )
    assert status == 201
    room = created["room"]
    group = room["id"]
    assert room["kind"] == "group"
    assert room["owner"] == "alice"
    assert room["members"] == ["alice", "bob"]
    assert api.call("POST", "/rooms", alice, json_body={"name": ""})[0] == 400
    assert api.call("POST", "/rooms", alice, json_body={"name": "x", "history": "all"})[0] == 400
    assert api.call("POST", "/rooms", alice, json_body={"name": "x", "members": ["zed"]})[0] == 404
    assert api.call("GET", "/rooms", None)[0] == 401  # with its WWW-Authenticate challenge
    as_text = {"Content-Type": "text/plain"}
    assert api.call("POST", "/rooms", alice, raw=b'{"name": "x"}', headers=as_text)[0] == 415
    status, _, rooms = api.call("GET", "/rooms", bob)
    assert status == 200
    assert group in {r["id"] for r in rooms["rooms"]}

    members = "/rooms/{room}/members"
    assert (
        api.call("POST", members, alice, params={"room": group}, json_body={"name": "carol"})[0]
        == 201
    )
    assert (
        api.call("POST", members, alice, params={"room": group}, json_body={"name": "carol"})[0]
        == 200
    )
    assert (
        api.call("POST", members, bob, params={"room": group}, json_body={"name": "dave"})[0] == 403
    )
    assert api.call("POST", members, alice, params={"room": group}, json_body={"name": 5})[0] == 400
    assert (
        api.call("POST", members, alice, params={"room": group}, json_body={"name": "zed"})[0]
        == 404
    )

    # -- join links and requests
    links = "/rooms/{room}/links"
    status, _, link = api.call("POST", links, alice, params={"room": group})
    assert status == 201
    assert link["path"] == f"/join/{link['token']}"
    assert api.call("POST", links, bob, params={"room": group}, json_body={})[0] == 403
    assert api.call("POST", links, alice, params={"room": "g999999"})[0] == 404
    token = {"token": link["token"]}
    status, _, asked = api.call("POST", "/join/{token}", dave, params=token)
    assert status == 202
    assert asked["request"]["status"] == "pending"
    assert api.call("POST", "/join/{token}", bob, params=token)[2]["request"]["status"] == "member"
    assert api.call("POST", "/join/{token}", mallory, params=token, json_body={})[0] == 202
    assert api.call("POST", "/join/{token}", dave, params={"token": "nope"})[0] == 404
    requests = "/rooms/{room}/requests"
    status, _, pending = api.call("GET", requests, alice, params={"room": group})
    assert status == 200
    assert [r["user"] for r in pending["requests"]] == ["dave", "mallory"]
    assert api.call("GET", requests, bob, params={"room": group})[0] == 403
    assert api.call("GET", requests, alice, params={"room": "general"})[0] == 404
    decide = "/rooms/{room}/requests/{name}"
    dave_request = {"room": group, "name": "dave"}
    assert (
        api.call("POST", decide, alice, params=dave_request, json_body={"approve": "y"})[0] == 400
    )
    assert api.call("POST", decide, bob, params=dave_request, json_body={"approve": True})[0] == 403
    status, _, decided = api.call(
        "POST", decide, alice, params=dave_request, json_body={"approve": True}
    )
    assert (status, decided["request"]["status"]) == (200, "approved")
    assert (
        api.call("POST", decide, alice, params=dave_request, json_body={"approve": True})[0] == 404
    )
    mallory_request = {"room": group, "name": "mallory"}
    status, _, decided = api.call(
        "POST", decide, alice, params=mallory_request, json_body={"approve": False}
    )
    assert (status, decided["request"]["status"]) == (200, "rejected")
    revoke = "/rooms/{room}/links/{token}"
    link_params = {"room": group, **token}
    assert api.call("DELETE", revoke, bob, params=link_params)[0] == 403
    assert api.call("DELETE", revoke, alice, params=link_params)[0] == 204
    assert api.call("DELETE", revoke, alice, params=link_params)[0] == 404
    assert api.call("POST", "/join/{token}", mallory, params=token)[0] == 404

    # -- comments
    status, _, sent = api.call("POST", "/send", bob, json_body={"text": "plan", "room": group})
    assert status == 201
    message = {"id": str(sent["message"]["id"])}
    comments = "/messages/{id}/comments"
    status, _, commented = api.call(
        "POST", comments, carol, params=message, json_body={"text": "ok"}
    )
    assert status == 201
    assert commented["comment"]["message"] == sent["message"]["id"]
    assert api.call("POST", comments, carol, params=message, json_body={"text": " "})[0] == 400
    assert api.call("POST", comments, mallory, params=message, json_body={"text": "hi"})[0] == 403
    assert (
        api.call("POST", comments, carol, params={"id": "999999"}, json_body={"text": "a"})[0]
        == 404
    )
    status, _, listed = api.call("GET", comments, alice, params=message)
    assert status == 200
    assert [c["text"] for c in listed["comments"]] == ["ok"]
    assert api.call("GET", comments, mallory, params=message)[0] == 403
    assert api.call("GET", comments, alice, params=message, query={"limit": "0"})[0] == 400
    assert api.call("GET", comments, alice, params={"id": "abc"})[0] == 404

    # -- edits, deletes and search
    one = "/messages/{id}"
    status, _, draft = api.call("POST", "/send", bob, json_body={"text": "typo", "room": group})
    draft_id = {"id": str(draft["message"]["id"])}
    assert api.call("POST", comments, carol, params=draft_id, json_body={"text": "ha"})[0] == 201
    status, _, edited = api.call("PATCH", one, bob, params=draft_id, json_body={"text": "fixed"})
    assert (status, edited["message"]["text"]) == (200, "fixed")
    assert edited["message"]["edited"] >= edited["message"]["ts"]
    assert api.call("PATCH", one, carol, params=draft_id, json_body={"text": "x"})[0] == 403
    assert api.call("PATCH", one, mallory, params=draft_id, json_body={"text": "x"})[0] == 404
    assert api.call("PATCH", one, bob, params=draft_id, json_body={"text": ""})[0] == 400
    assert api.call("PATCH", one, bob, params={"id": "999999"}, json_body={"text": "x"})[0] == 404
    status, _, found = api.call("GET", "/search", carol, query={"q": "FIX", "room": group})
    assert (status, [m["id"] for m in found["messages"]]) == (200, [draft["message"]["id"]])
    assert found["next_before"] is None
    assert api.call("GET", "/search", mallory, query={"q": "fixed"})[2]["messages"] == []
    assert api.call("GET", "/search", mallory, query={"q": "x", "room": group})[0] == 403
    assert api.call("GET", "/search", carol, query={"q": "!?"})[0] == 400
    assert api.call("DELETE", one, carol, params=draft_id)[0] == 403
    assert api.call("DELETE", one, bob, params=draft_id)[0] == 204
    assert api.call("DELETE", one, bob, params=draft_id)[0] == 404
    assert api.call("GET", comments, carol, params=draft_id)[0] == 404
    assert api.call("GET", "/search", carol, query={"q": "fixed"})[2]["messages"] == []
    status, _, kept = api.call("POST", "/send", alice, json_body={"text": "kep", "room": group})
    kept_id = {"id": str(kept["message"]["id"])}
    assert api.call("PATCH", one, alice, params=kept_id, json_body={"text": "kept"})[0] == 200

    # -- scheduled messages
    later = {"text": "later", "room": group, "send_at": time.time() + 3600}
    status, _, scheduled = api.call("POST", "/send", alice, json_body=later)
    assert status == 202
    assert scheduled["scheduled"]["status"] == "pending"
    scheduled_id = {"id": str(scheduled["scheduled"]["id"])}
    status, _, pending = api.call("GET", "/scheduled", alice)
    assert [s["id"] for s in pending["scheduled"]] == [scheduled["scheduled"]["id"]]
    assert api.call("DELETE", "/scheduled/{id}", bob, params=scheduled_id)[0] == 404
    assert api.call("DELETE", "/scheduled/{id}", alice, params=scheduled_id)[0] == 204
    assert api.call("DELETE", "/scheduled/{id}", alice, params=scheduled_id)[0] == 409
    assert api.call("DELETE", "/scheduled/{id}", alice, params={"id": "x1"})[0] == 404
    too_far = {"text": "x", "to": "bob", "send_at": time.time() + 31 * 86400}
    status, _, refused = api.call("POST", "/send", alice, json_body=too_far)
    assert (status, refused["error"]["field"]) == (400, "send_at")
    past = {"text": "now", "to": "bob", "send_at": time.time() - 10}
    assert api.call("POST", "/send", alice, json_body=past)[0] == 201
    soon = time.time() + 1.5  # carol leaves the room before then
    status, _, delivered = api.call(
        "POST", "/send", alice, json_body={"text": "soon", "to": "bob", "send_at": soon}
    )
    assert status == 202
    assert delivered["scheduled"]["to"] == "bob"
    failing = {"text": "bye", "room": group, "send_at": soon}
    assert api.call("POST", "/send", carol, json_body=failing)[0] == 202

    # -- leaving (carol's scheduled message to the room will fail: not_member)
    leave = "/rooms/{room}/leave"
    assert api.call("POST", leave, carol, params={"room": group})[0] == 204
    assert api.call("POST", leave, carol, params={"room": group}, json_body={})[0] == 404
    assert api.call("POST", leave, alice, params={"room": group})[0] == 409
    assert api.call("POST", leave, alice, params={"room": "general"})[0] == 409
    wait_until(lambda: not api.call("GET", "/scheduled", alice)[2]["scheduled"])
    wait_until(lambda: not api.call("GET", "/scheduled", carol)[2]["scheduled"])

    # -- files
    upload_query = {"room": group, "name": "notes.txt"}
    text_plain = {"Content-Type": "text/plain; charset=utf-8"}
    status, _, uploaded = api.call(
        "POST", "/files", bob, query=upload_query, raw=b"abc", headers=text_plain
    )
    assert status == 201
    file = uploaded["message"]["file"]
    assert (file["size"], file["content_type"]) == (3, "text/plain; charset=utf-8")
    file_message = {"id": str(uploaded["message"]["id"])}
    download = "/messages/{id}/file"
    status, headers, content = api.call("GET", download, dave, params=file_message)
    assert (status, content) == (200, b"abc")
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["etag"] == f'"{file["sha256"]}"'
    cached = {"If-None-Match": headers["etag"]}
    assert api.call("GET", download, dave, params=file_message, headers=cached)[0] == 304
    assert api.call("GET", download, mallory, params=file_message)[0] == 403
    assert api.call("GET", download, dave, params=message)[0] == 404
    status, _, direct = api.call(
        "POST", "/files", alice, query={"to": "bob", "name": "a.bin"}, raw=b"\x00\xff"
    )
    assert (status, direct["message"]["file"]["content_type"]) == (201, "application/octet-stream")
    big = b"x" * (MAX_FILE_BYTES + 1)
    assert api.call("POST", "/files", bob, query=upload_query, raw=big)[0] == 413

    def chunks(*sizes: int) -> Iterator[bytes]:
        yield from (b"y" * size for size in sizes)

    assert api.call("POST", "/files", bob, query=upload_query, raw=chunks(1000, 3000, 97))[0] == 413
    assert (
        api.call("POST", "/files", bob, query=upload_query, raw=chunks(MAX_FILE_BYTES, 1))[0] == 413
    )
    at_limit = chunks(1, MAX_FILE_BYTES - 1)
    status, _, full = api.call("POST", "/files", bob, query=upload_query, raw=at_limit)
    assert (status, full["message"]["file"]["size"]) == (201, MAX_FILE_BYTES)
    assert api.call("POST", "/files", bob, query={"room": group, "name": "..."}, raw=b"")[0] == 400
    assert api.call("POST", "/files", mallory, query=upload_query, raw=b"a")[0] == 403
    assert api.call("POST", "/files", bob, query={"to": "zed", "name": "a"}, raw=b"a")[0] == 404

    # -- rate limit (general only)
    for n in range(RATE_LIMIT):
        assert api.call("POST", "/send", eve, json_body={"text": f"{n}"})[0] == 201
    status, headers, limited = api.call("POST", "/send", eve, json_body={"text": "more"})
    assert (status, limited["error"]["code"]) == (429, "rate_limited")
    assert int(headers["retry-after"]) >= 1
    status, _, limited = api.call("POST", "/files", eve, query={"name": "f"}, raw=b"f")
    assert status == 429

    # -- reports and the ban
    report = "/users/{name}/report"
    on_mallory = {"name": "mallory"}
    status, _, reported = api.call(
        "POST", report, bob, params=on_mallory, json_body={"reason": "x"}
    )
    assert (status, reported) == (202, {"user": "mallory", "banned": False})
    assert api.call("POST", report, bob, params={"name": "bob"})[0] == 400
    assert api.call("POST", report, bob, params={"name": "zed"})[0] == 404
    assert api.call("POST", report, bob, params={"name": "zed!"})[0] == 404
    too_long = {"reason": "r" * (MAX_REPORT_REASON_CHARS + 1)}
    assert api.call("POST", report, carol, params=on_mallory, json_body=too_long)[0] == 400
    assert api.call("POST", report, carol, params=on_mallory)[2]["banned"] is False
    assert api.call("POST", report, dave, params=on_mallory)[2]["banned"] is True
    status, _, banned = api.call("POST", "/send", mallory, json_body={"text": "hi"})
    assert (status, banned["error"]["code"]) == (403, "banned")
    assert banned["error"]["until"] > time.time()
    general_message = {
        "id": str(api.call("POST", "/send", bob, json_body={"text": "g"})[2]["message"]["id"])
    }
    assert (
        api.call("POST", comments, mallory, params=general_message, json_body={"text": "a"})[0]
        == 403
    )
    assert api.call("POST", "/files", mallory, query={"name": "f"}, raw=b"f")[0] == 403

    # -- blocking
    block = "/users/{name}/block"
    assert api.call("POST", block, dave, params={"name": "bob"})[0] == 204
    assert api.call("GET", "/blocked", dave)[2] == {"blocked": ["bob"]}
    status, _, refused = api.call("POST", "/send", bob, json_body={"text": "hi", "to": "dave"})
    assert (status, refused["error"]["code"]) == (403, "forbidden")
    assert api.call("POST", block, dave, params={"name": "dave"})[0] == 400
    assert api.call("POST", block, dave, params={"name": "zed"})[0] == 404
    assert api.call("DELETE", block, dave, params={"name": "zed"})[0] == 404
    assert api.call("DELETE", block, dave, params={"name": "dave"})[0] == 400
    assert api.call("DELETE", block, dave, params={"name": "bob"})[0] == 204
    assert api.call("POST", "/send", bob, json_body={"text": "hi", "to": "dave"})[0] == 201

    # -- one's own sessions
    spare = api.connect("carol")
    status, _, listed = api.call("GET", "/sessions", carol)
    assert status == 200
    assert [s["current"] for s in listed["sessions"]] == [True, False]
    spare_id = {"id": str(listed["sessions"][-1]["id"])}
    assert api.call("DELETE", "/sessions/{id}", carol, params=spare_id)[0] == 204
    assert api.call("GET", "/status", spare)[0] == 401
    assert api.call("DELETE", "/sessions/{id}", carol, params=spare_id)[0] == 404

    users = {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "mallory": mallory}
    for name, user_token in users.items():
        api.collect_events(name, user_token)  # acknowledges, so the cursors move

    other_session = api.connect("alice")  # a cursor.moved is not echoed to its own session

    def cursor_moved() -> bool:
        api.collect_events("alice", other_session)
        return any(e["type"] == "cursor.moved" for e in api.events["alice"])

    wait_until(cursor_moved)


def serve_contract(data_dir: Path) -> Iterator[Contract]:
    """A live server that has run the scenario; stopped when the generator is closed."""
    server = LiveServer(
        quick_settings(
            data_dir,
            cursor_flush_interval_s=0.05,
            max_file_bytes=MAX_FILE_BYTES,
            rate_limit=RATE_LIMIT,
            report_threshold=REPORT_THRESHOLD,
        )
    )
    server.start()
    try:
        status, body = server.request("GET", "/openapi.json")
        assert status == 200
        api = Contract(server=server, document=json.loads(body))
        run_scenario(api)
        yield api
    finally:
        server.stop()
