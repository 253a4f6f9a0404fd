"""`POST /files` and `GET /messages/{id}/file`: raw bytes in, any media type out."""

from __future__ import annotations

from transport.api.routes import openapi_document


def test_uploads_are_raw_bytes_and_downloads_any_media_type() -> None:
    document = openapi_document()
    upload = document["paths"]["/files"]["post"]
    assert set(upload["requestBody"]["content"]) == {"application/octet-stream", "*/*"}
    assert "415" not in upload["responses"]  # any Content-Type is a file's type
    assert "`too_large`" in upload["responses"]["413"]["description"]
    assert upload["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    download = document["paths"]["/messages/{id}/file"]["get"]
    assert set(download["responses"]["200"]["content"]) == {"*/*"}
    headers = download["responses"]["200"]["headers"]
    for name in ("Content-Disposition", "ETag", "X-Content-Type-Options", "Content-Length"):
        assert headers[name]["required"] is True
    assert "content" not in download["responses"]["304"]
