#!/usr/bin/env python3
"""abuse.py: hostile clients against a running `mandate serve` on 127.0.0.1 (loopback only).

Run by tests/cli/serve_abuse.sh with the server's limits; every check is bounded in count and
time. Checks: bodies and headers at and one past each limit, chunked bodies past the limit,
truncated and malformed JSON, deep nesting, a slow-loris client, an idle half-sent request being
dropped after the timeout, and 1,000 concurrent connections; after each the server must still
answer others. Prints ok:/FAIL: lines; exits 1 when something failed.
"""
import json
import socket
import sys
import threading
import time

host, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
max_body, max_headers, max_header_bytes, max_depth, timeout_s = map(int, sys.argv[4:9])
fails = 0


def check(cond, what):
    global fails
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        fails += 1


def raw(data, read_timeout=10.0):
    """Sends raw bytes on a new connection; returns (status, body) of the first response."""
    s = socket.create_connection((host, port), timeout=read_timeout)
    try:
        s.sendall(data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        if b"\r\n\r\n" not in buf:
            return None, b""
        head, _, body = buf.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, body
    except (ConnectionError, socket.timeout, OSError):
        return None, b""
    finally:
        s.close()


def request(method, path, body=b"", headers=None, auth=True):
    h = [("Host", "127.0.0.1")]
    if auth:
        h.append(("Authorization", "Bearer " + key))
    if body or method in ("POST", "PUT"):
        h.append(("Content-Length", str(len(body))))
    h += headers or []
    text = "%s %s HTTP/1.1\r\n" % (method, path) + "".join("%s: %s\r\n" % kv for kv in h) + "\r\n"
    return text.encode() + body


def healthy(what):
    st, body = raw(request("GET", "/healthz", auth=False), read_timeout=5)
    check(st == 200 and b'"ok"' in body, "server still serves others after " + what)


def code(body):
    try:
        return json.loads(body)["error"]["code"]
    except Exception:
        return None


AUTHZ = b'{"principal":"Human::\\"alice\\"","action":"Action::\\"export\\"","resource":"Ticket::\\"T-1001\\""}'

# ---- body size: at the limit (padded with JSON whitespace) and one past ----
at = AUTHZ + b" " * (max_body - len(AUTHZ))
st, body = raw(request("POST", "/v1/authorize", at))
check(st == 200 and b'"decision"' in body, "body of exactly %d bytes is accepted (%s)" % (max_body, st))
st, body = raw(request("POST", "/v1/authorize", at + b" "))
check(st == 413 and code(body) == "body_too_large", "body of %d bytes gets 413 body_too_large (%s)" % (max_body + 1, st))
# Chunked (no Content-Length) past the limit.
chunk = b" " * 1000
chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(max_body // 1000 + 2))
data = ("POST /v1/authorize HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n" % key).encode()
st, body = raw(data + chunks + b"0\r\n\r\n")
check(st == 413, "chunked body past the limit gets 413 (%s)" % st)
# An endless chunked body: the connection is closed once 4 times the cap has been dropped.
def endless():
    c = socket.create_connection((host, port), timeout=10)
    c.sendall(data)
    sent = 0
    try:
        while sent < 8000 * max_body:
            c.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
    except OSError:
        pass
    c.close()
    return sent
sent = endless()
check(sent < 8000 * max_body, "an endless chunked body is cut off after %d bytes" % sent)
healthy("large bodies")
# ---- the body's length given twice (request smuggling behind a proxy): 400 ----
st, body = raw(request("POST", "/v1/authorize", AUTHZ, [("Content-Length", "5")]))
check(st == 400 and code(body) == "ambiguous_length", "two Content-Length headers get 400 (%s)" % st)
st, body = raw(request("POST", "/v1/authorize", AUTHZ, [("Transfer-Encoding", "chunked")]))
check(st == 400 and code(body) == "ambiguous_length",
      "Content-Length with Transfer-Encoding gets 400 (%s)" % st)
healthy("ambiguous lengths")

# ---- header count: the request line's headers are Host + Authorization + Content-Length? no: GET ----
base = 2  # Host, Authorization
hdrs = [("X-Pad-%d" % i, "v") for i in range(max_headers - base)]
st, _ = raw(request("GET", "/v1/policies", headers=hdrs))
check(st == 200, "%d headers are accepted (%s)" % (max_headers, st))
st, body = raw(request("GET", "/v1/policies", headers=hdrs + [("X-One-More", "v")]))
check(st == 431 and code(body) == "too_many_headers", "%d headers get 431 too_many_headers (%s)" % (max_headers + 1, st))

# ---- header bytes: names + values summed ----
used = len("Host") + len("127.0.0.1") + len("Authorization") + len("Bearer " + key) + len("X-Big")
big = "a" * (max_header_bytes - used)
st, _ = raw(request("GET", "/v1/policies", headers=[("X-Big", big)]))
check(st == 200, "%d header bytes are accepted (%s)" % (max_header_bytes, st))
st, body = raw(request("GET", "/v1/policies", headers=[("X-Big", big + "a")]))
check(st == 431 and code(body) == "headers_too_large", "%d header bytes get 431 headers_too_large (%s)" % (max_header_bytes + 1, st))
# Both at once: max_headers headers holding max_header_bytes in all are accepted.
pads = ["X-P%02d" % i for i in range(max_headers - base)]
room = max_header_bytes - (used - len("X-Big")) - sum(len(p) for p in pads)
vals = [room // len(pads)] * len(pads)
vals[-1] += room - sum(vals)
st, _ = raw(request("GET", "/v1/policies", headers=list(zip(pads, ("v" * v for v in vals)))))
check(st == 200, "%d headers holding %d bytes are accepted (%s)" % (max_headers, max_header_bytes, st))
st, _ = raw(request("GET", "/healthz", auth=False, headers=[("X-Huge", "b" * 200000)]))
check(st is not None and 400 <= st < 500, "a 200 kB header gets a 4xx (%s)" % st)
healthy("large headers")

# ---- malformed and truncated JSON ----
for bad in [b"{", b'{"principal":', b'{"principal":"Human::\\"alice\\""', b"[", b"\xff\xfe", b"{}}", b'{"a":tru}',
            b'{"a":"\\u12"}', b"null", b'{"a":1,"a":1}', AUTHZ[:-1], b"\x00"]:
    st, body = raw(request("POST", "/v1/authorize", bad))
    check(st == 400 and b'"deny"' in body, "malformed JSON %r gets 400 with a deny (%s)" % (bad[:24], st))

# ---- nesting: at the limit, one past, and absurdly deep ----
def nested(depth):
    # {"context":{"a":{"a":...}}} with `depth` levels of objects in total
    inner = b"{}"
    for _ in range(depth - 2):
        inner = b'{"a":' + inner + b"}"
    return b'{"principal":"Human::\\"alice\\"","action":"Action::\\"export\\"","resource":"Ticket::\\"T-1001\\"","context":' + inner + b"}"

st, body = raw(request("POST", "/v1/authorize", nested(max_depth)))
check(st == 400 and code(body) != "json_too_deep", "JSON nested %d deep is parsed (%s %s)" % (max_depth, st, code(body)))
st, body = raw(request("POST", "/v1/authorize", nested(max_depth + 1)))
check(st == 400 and code(body) == "json_too_deep", "JSON nested %d deep gets json_too_deep (%s)" % (max_depth + 1, st))
deep = b"[" * (max_body - 10)
st, body = raw(request("POST", "/v1/authorize", deep))
check(st == 400 and code(body) == "json_too_deep", "%d open brackets get json_too_deep (%s)" % (len(deep), st))
healthy("deep JSON")

# ---- slow loris: a client trickling a request must not stall others ----
# The bound is relative to the same 20 requests without the lorises, so that a loaded machine
# (sanitizers, other jobs) does not fail the check; a loris trickles for over 200 s, so a server
# that waits on one would blow any bound here.
def twenty_requests():
    t0 = time.time()
    for _ in range(20):
        st, _ = raw(request("GET", "/healthz", auth=False), read_timeout=30)
        if st != 200:
            return st, time.time() - t0
    return 200, time.time() - t0


stop = threading.Event()
loris_closed = []
lorises_started = threading.Semaphore(0)


def loris():
    s = socket.create_connection((host, port))
    s.settimeout(1)
    data = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    try:
        for i, b in enumerate(data):
            if stop.is_set():
                break
            s.sendall(bytes([b]))
            if i == 2:
                lorises_started.release()
            time.sleep(0.2)
    except OSError:
        loris_closed.append(True)
    s.close()


base_st, base_time = twenty_requests()
lorises = [threading.Thread(target=loris) for _ in range(20)]
for t in lorises:
    t.start()
for _ in lorises:
    lorises_started.acquire(timeout=30)
st, elapsed = twenty_requests()
bound = 5 + 5 * base_time
check(base_st == 200 and st == 200 and elapsed < bound and not loris_closed,
      "20 slow-loris clients do not stall others (%.2fs for 20 requests, %.2fs without them)"
      % (elapsed, base_time))
stop.set()
for t in lorises:
    t.join()

# An idle half-sent request is dropped after the connection timeout.
s = socket.create_connection((host, port))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
s.settimeout(timeout_s + 10)
t0 = time.time()
try:
    got = s.recv(100)
except (socket.timeout, OSError):
    got = None
elapsed = time.time() - t0
check(got == b"" and timeout_s - 0.5 <= elapsed < timeout_s + 10,
      "an idle half-sent request is closed after %.1fs (timeout %ds)" % (elapsed, timeout_s))
s.close()

# ---- 1,000 concurrent connections ----
N = 1000
socks = []
for i in range(N):
    try:
        socks.append(socket.create_connection((host, port), timeout=10))
    except OSError:
        break
check(len(socks) == N, "opened %d concurrent connections" % len(socks))
healthy("%d open connections" % len(socks))
req = request("GET", "/healthz", auth=False, headers=[("Connection", "keep-alive")])
for s in socks:
    try:
        s.sendall(req)
    except OSError:
        pass
answered = 0
deadline = time.time() + 30
for s in socks:
    s.settimeout(max(0.1, deadline - time.time()))
    try:
        if s.recv(12).startswith(b"HTTP/1.1 200"):
            answered += 1
    except OSError:
        pass
check(answered == len(socks), "%d of %d concurrent connections answered" % (answered, len(socks)))
for s in socks:
    s.close()
healthy("1,000 concurrent connections")

st, body = raw(request("POST", "/v1/authorize", AUTHZ))
check(st == 200 and b'"decision":"deny"' in body, "authorize still decides after the abuse (%s)" % st)
sys.exit(1 if fails else 0)
