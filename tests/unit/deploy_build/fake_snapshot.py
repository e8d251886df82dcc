"""A fake Debian snapshot archive on 127.0.0.1 (the real one is not reachable from the test machines).

It serves the machine-readable API the build uses, in the shapes of the snapshot.debian.org API
documentation: `/mr/binary/<name>/<version>/binfiles?fileinfo=1`,
`/mr/package/<source>/<version>/srcfiles?fileinfo=1`, and `/file/<sha1>`. Anything else is a 404.
`served` lets a test hand out bytes other than the ones the listing's sha1 names (a tampered file).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


def _fileinfo(name: str, content: bytes, path: str) -> dict[str, object]:
    return {
        "name": name,
        "archive_name": "debian",
        "path": path,
        "first_seen": "20250101T000000Z",
        "size": len(content),
    }


class FakeSnapshot:
    """Routes (decoded path + query) -> body; `requests` records each raw request path in order."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.base_url = ""

    def add_binary(
        self,
        name: str,
        version: str,
        builds: Mapping[str, bytes],
        *,
        served: Mapping[str, bytes] | None = None,
    ) -> dict[str, str]:
        """List `name` `version` with one file per architecture in `builds` (arch -> content), named
        by its sha1; serve each (or `served[arch]` instead). Returns arch -> sha1."""
        hashes = {arch: hashlib.sha1(content).hexdigest() for arch, content in builds.items()}
        upstream = version.split(":", 1)[-1]
        answer = {
            "_comment": "fake",
            "binary": name,
            "binary_version": version,
            "result": [{"hash": sha1, "architecture": arch} for arch, sha1 in hashes.items()],
            "fileinfo": {
                hashes[arch]: [
                    _fileinfo(f"{name}_{upstream}_{arch}.deb", content, f"/pool/main/{name[0]}/{name}")
                ]
                for arch, content in builds.items()
            },
        }
        self.routes[f"/mr/binary/{name}/{version}/binfiles?fileinfo=1"] = json.dumps(answer).encode()
        for arch, content in builds.items():
            self.routes[f"/file/{hashes[arch]}"] = (served or {}).get(arch, content)
        return hashes

    def add_source(
        self,
        name: str,
        version: str,
        files: Mapping[str, bytes],
        *,
        served: Mapping[str, bytes] | None = None,
    ) -> dict[str, str]:
        """List the files of source `name` `version` with their sha1; serve each (or `served[name]`
        instead). Returns file name -> sha1."""
        hashes = {f: hashlib.sha1(content).hexdigest() for f, content in files.items()}
        answer = {
            "_comment": "fake",
            "package": name,
            "version": version,
            "result": [{"hash": h} for h in hashes.values()],
            "fileinfo": {
                hashes[f]: [_fileinfo(f, content, f"/pool/main/{name[0]}/{name}")]
                for f, content in files.items()
            },
        }
        self.routes[f"/mr/package/{name}/{version}/srcfiles?fileinfo=1"] = json.dumps(answer).encode()
        for f, content in files.items():
            self.routes[f"/file/{hashes[f]}"] = (served or {}).get(f, content)
        return hashes


@contextmanager
def running_snapshot() -> Iterator[FakeSnapshot]:
    """A FakeSnapshot listening on a free 127.0.0.1 port for the duration of the block."""
    fake = FakeSnapshot()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.requests.append(self.path)
            body = fake.routes.get(unquote(self.path))
            if body is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
