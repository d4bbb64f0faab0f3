#!/usr/bin/env python3
"""A JSON-RPC endpoint between the inbox-listener and a dev chain, to make the chain misbehave.

    rpc_proxy.py --port P --upstream URL --mode-file FILE

Forwards each POST to URL, or misbehaves as FILE says (read per request, default "pass"):
  pass     forward the request, return the chain's answer
  garbage  answer 200 with a body that is not JSON-RPC
  hang     answer nothing for 30 s (the client's timeout fires)
Killing the process is the chain going away; starting it again on the same port, it coming back.
Prints "READY" on stdout once listening.
"""

import argparse
import http.server
import socketserver
import sys
import time
import urllib.request


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--mode-file", required=True)
    args = p.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                mode = open(args.mode_file).read().strip() or "pass"
            except OSError:
                mode = "pass"
            if mode == "garbage":
                return self.reply(200, b"<html>502 bad gateway</html>")
            if mode == "hang":
                time.sleep(30)
                return self.reply(200, b"{}")
            req = urllib.request.Request(args.upstream, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                self.reply(r.status, r.read())

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        allow_reuse_address = True
        daemon_threads = True

    server = Server(("127.0.0.1", args.port), Handler)
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
