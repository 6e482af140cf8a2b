"""A body over the limit gets a 413 every client can read, over a real socket to gunicorn.

A server that answers before reading the body and then closes resets the connection while
the client is still writing: Python's urllib and requests, which write the whole body
before reading, then see a reset instead of the answer (curl happened to see the 413).
The server reads and drops the body up to a bound first, so urllib, requests and curl all
read the 413 and its JSON, for 5 MB and 30 MB bodies, on both endpoints that take one.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

import pytest
import requests

from tests.e2e.test_gunicorn import server, until  # noqa: F401 - the gunicorn fixture

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = {"5 MB": 5 * 1024 * 1024, "30 MB": 30 * 1024 * 1024}


def oversized(size: int) -> bytes:
    """Valid JSON of ``size`` bytes: only its size is wrong."""
    head, tail = b'{"query": "shoes", "products": [], "pad": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def by_urllib(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def by_requests(url: str, body: bytes) -> tuple[int, bytes]:
    response = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=60)
    return response.status_code, response.content


def by_curl(url: str, body: bytes) -> tuple[int, bytes]:
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "-w",
            "\n%{http_code}",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
            url,
        ],
        input=body,
        capture_output=True,
        timeout=60,
        check=True,
    )
    content, _, status = result.stdout.rpartition(b"\n")
    return int(status), content


@pytest.mark.parametrize("path", ["/api/rank", "/api/events"])
def test_every_client_reads_the_413_of_a_body_over_the_limit(server, path):  # noqa: F811
    until(lambda: server.get("/health")[0] == 200, what="/health answers 200", server=server)
    for client in (by_urllib, by_requests, by_curl):
        for label, size in SIZES.items():
            status, content = client(server.url + path, oversized(size))
            assert status == 413, (client.__name__, label, status, content[:300])
            body = json.loads(content)
            assert body["error"] == "body_too_large", body
            assert body["errors"][0]["field"] == "body", body
    # The worker is still there and answers the next request.
    assert server.get("/health")[0] == 200
