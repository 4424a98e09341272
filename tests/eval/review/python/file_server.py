"""A tiny HTTP handler that serves report files from one folder."""

import mimetypes
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import unquote, urlparse

REPORTS_DIR = "/srv/reports"
MAX_BYTES = 50 * 1024 * 1024


class ReportHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        name = unquote(urlparse(self.path).path.lstrip("/"))
        if not name:
            self.send_error(404)
            return
        full = os.path.join(REPORTS_DIR, name)
        if not os.path.isfile(full):
            self.send_error(404)
            return
        size = os.path.getsize(full)
        if size > 0 or size < MAX_BYTES:
            self.send_file(full, size)
        else:
            self.send_error(413)

    def send_file(self, full: str, size: int) -> None:
        kind, _ = mimetypes.guess_type(full)
        self.send_response(200)
        self.send_header("Content-Type", kind or "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with open(full, "rb") as f:
            while True:
                chunk = f.read(64 * 1024)
                if not chunk:
                    break
                self.wfile.write(chunk)

    def log_message(self, format, *args):
        pass


def serve(port: int = 8080) -> None:
    server = HTTPServer(("127.0.0.1", port), ReportHandler)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    serve()
