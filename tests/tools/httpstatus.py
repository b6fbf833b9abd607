#!/usr/bin/env python3
"""A small HTTP server for health-check tests.

  httpstatus.py --port P --status-file F [--pidfile FILE]

Answers every GET or HEAD with the status code written in F (200 if F is
missing or empty) and a body "status N from NAME\\n" (--name). Writes
--pidfile once it listens. Stops on SIGTERM.
"""

import argparse
import http.server
import os
import socketserver


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--status-file", required=True)
    p.add_argument("--name", default="server")
    p.add_argument("--pidfile")
    args = p.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def status(self):
            try:
                with open(args.status_file) as f:
                    return int(f.read().strip() or 200)
            except (OSError, ValueError):
                return 200

        def answer(self, body):
            code = self.status()
            text = ("status %d from %s\n" % (code, args.name)).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            if body:
                self.wfile.write(text)

        def do_GET(self):
            self.answer(True)

        def do_HEAD(self):
            self.answer(False)

        def log_message(self, fmt, *a):
            print("%s %s" % (self.address_string(), fmt % a), flush=True)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("0.0.0.0", args.port), Handler)
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    srv.serve_forever()


if __name__ == "__main__":
    main()
