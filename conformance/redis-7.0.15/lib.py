import socket, time, sys

def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        if isinstance(a, str): a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

class Conn:
    def __init__(self, port, quiet=0.3):
        self.port = port
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.quiet = quiet
        self.closed = False
    def read(self, quiet=None, maxtime=5.0, maxbytes=None):
        quiet = self.quiet if quiet is None else quiet
        buf = b""
        self.s.settimeout(quiet)
        t0 = time.time()
        while True:
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                self.closed = True; break
            if not d:
                self.closed = True; break
            buf += d
            if maxbytes and len(buf) >= maxbytes: break
            if time.time() - t0 > maxtime: break
        return buf
    def send(self, raw, quiet=None, **kw):
        if isinstance(raw, str): raw = raw.encode()
        try:
            self.s.sendall(raw)
        except (BrokenPipeError, ConnectionResetError) as e:
            self.closed = True
            return b"<send failed: %s>" % str(e).encode()
        return self.read(quiet, **kw)
    def c(self, *args, **kw):
        return self.send(cmd(*args), **kw)
    def is_closed(self, wait=0.3):
        """probe: check if peer has closed (without sending)"""
        if self.closed: return True
        self.s.settimeout(wait)
        try:
            d = self.s.recv(65536)
            if not d: self.closed = True; return True
            return False
        except socket.timeout:
            return False
        except ConnectionResetError:
            self.closed = True; return True
    def close(self):
        try: self.s.close()
        except Exception: pass

class Rec:
    def __init__(self, path):
        self.f = open(path, "w")
    def w(self, s=""):
        self.f.write(s + "\n"); self.f.flush()
    def h(self, title, level=2):
        self.w(); self.w("#" * level + " " + title); self.w()
    def note(self, s):
        self.w("> " + s); self.w()
    def case(self, conn, raw, label=None, text=False, probe_close=False, **kw):
        if isinstance(raw, str): raw = raw.encode()
        reply = conn.send(raw, **kw)
        self.show(conn, raw, reply, label, text, probe_close)
        return reply
    def show(self, conn, raw, reply, label=None, text=False, probe_close=False):
        closed = conn.closed or (probe_close and conn.is_closed())
        lab = f"[{label}] " if label else ""
        self.w(f"- {lab}request `{raw!r}`" if len(raw) < 300 else f"- {lab}request ({len(raw)} bytes) `{raw[:80]!r}...`")
        if len(reply) > 6000 and not text:
            self.w(f"  - reply ({len(reply)} bytes, truncated): `{reply[:200]!r}` ... `{reply[-60:]!r}`")
        else:
            self.w(f"  - reply: `{reply!r}`")
        if closed:
            self.w("  - **connection closed by server**")
        if text:
            self.w("")
            self.w("```")
            self.w(reply.decode("utf-8", "replace").replace("\r\n", "\n"))
            self.w("```")
        return reply
    def c(self, conn, *args, label=None, **kw):
        return self.case(conn, cmd(*args), label=label, **kw)
