# SPDX-License-Identifier: ISC
"""A small HTTP CONNECT proxy for the system tests (option proxy).

HttpProxy(user=None, password=None) listens on 127.0.0.1 (a free port),
accepts CONNECT requests and joins each to its target, which must be a
127.0.0.1 address (the tests never reach anything else). With user set it
demands `Proxy-Authorization: Basic base64(user:password)` and answers 407
otherwise. .requests lists the request heads it got; .tunnels counts the
CONNECTs it served; stop() closes everything. One thread per connection,
daemon threads; nothing outlives the test's finalizer.
"""

import base64
import select
import socket
import threading


class HttpProxy:
    def __init__(self, user=None, password=None):
        self.user, self.password = user, password
        self.requests = []
        self.tunnels = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.stopped = False
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _head(self, c):
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = c.recv(1)
            if not chunk:
                return None
            head += chunk
        return head.decode("latin-1")

    def _authorized(self, head):
        if self.user is None:
            return True
        want = base64.b64encode(("%s:%s" % (self.user, self.password))
                                .encode()).decode()
        return any(line.strip() == "Proxy-Authorization: Basic " + want
                   for line in head.split("\r\n"))

    def _serve(self, c):
        try:
            head = self._head(c)
            if head is None:
                return
            with self.lock:
                self.requests.append(head)
            parts = head.split("\r\n")[0].split()
            if len(parts) != 3 or parts[0] != "CONNECT":
                c.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                return
            if not self._authorized(head):
                c.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                          b"Proxy-Authenticate: Basic realm=\"t\"\r\n\r\n")
                return
            host, port = parts[1].rsplit(":", 1)
            if host != "127.0.0.1":
                c.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
                return
            up = socket.create_connection((host, int(port)), timeout=5)
            with self.lock:
                self.tunnels += 1
                self.conns.append(up)
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self._pump(c, up)
        except OSError:
            pass
        finally:
            c.close()

    def _pump(self, a, b):
        peers = {a: b, b: a}
        while not self.stopped:
            r, _, _ = select.select([a, b], [], [], 0.5)
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                peers[s].sendall(data)

    def stop(self):
        self.stopped = True
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass
