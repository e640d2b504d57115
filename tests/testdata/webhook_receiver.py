"""A platform's webhook endpoint for tests/webhook_test: answers 503 for the first
`fail_seconds`, then checks each request's X-Volley-Signature (HMAC-SHA256 of the body with
`secret`) and, when it verifies, appends one JSON line per event to `events_file`:
{"batch", "type", "id", "recipient"}; a bad signature gets 401 and a {"bad_signature": true}
line. `delay_ms` slows every answer. Writes its port to `port_file` once listening."""
import hashlib
import hmac
import http.server
import json
import sys
import time

port_file, events_file, secret, fail_seconds, delay_ms = sys.argv[1:6]
started = time.monotonic()
out = open(events_file, "a")


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(int(delay_ms) / 1000.0)
        if time.monotonic() - started < float(fail_seconds):
            return self.answer(503)
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, self.headers.get("X-Volley-Signature", "")):
            out.write(json.dumps({"bad_signature": True}) + "\n")
            out.flush()
            return self.answer(401)
        batch = self.headers.get("X-Volley-Batch")
        for event in json.loads(body):
            out.write(json.dumps({"batch": batch, "type": event["type"], "id": event["id"],
                                  "recipient": event["recipient"]}) + "\n")
        out.flush()
        self.answer(200)


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
