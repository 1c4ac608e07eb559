#!/usr/bin/env bash
# serve_abuse.sh: abuse tests against a real `mandate serve` on 127.0.0.1 with small limits
# (tests/http/abuse.py: bodies and headers at and one past each limit, malformed and deep JSON,
# slow-loris clients, 1,000 concurrent connections). The server must keep serving and exit
# cleanly (no sanitizer report) on SIGTERM. Bounded: about 30 s.
. "$(dirname "$0")/../http/lib.sh"
if ! command -v python3 >/dev/null; then echo "python3 is missing (scripts/setup.sh installs it)"; exit 1; fi
ulimit -n 4096 2>/dev/null || true
make_data
MAX_BODY=4096 MAX_HEADERS=16 MAX_HEADER_BYTES=2048 MAX_DEPTH=16 TIMEOUT=2
start_server --threads 2 --max-body $MAX_BODY --max-headers $MAX_HEADERS \
    --max-header-bytes $MAX_HEADER_BYTES --max-json-depth $MAX_DEPTH --timeout $TIMEOUT \
    --max-connections 1100
timeout 120 python3 "$ROOT/tests/http/abuse.py" 127.0.0.1 "$PORT" "$KEY_ADMIN" \
    $MAX_BODY $MAX_HEADERS $MAX_HEADER_BYTES $MAX_DEPTH $TIMEOUT || fail "abuse.py reported failures"
kill -0 "$SERVER_PID" 2>/dev/null && ok "server is alive after the abuse" || fail "server died"
stop_server

# The connection cap: past it the server stops accepting, so new connections wait in the listen
# queue; those accepted keep being served, and the waiting ones are served once slots free up.
start_server --threads 1 --max-connections 40 --timeout 30
timeout 90 python3 - "$PORT" <<'PY' || fail "connection cap checks failed"
import select, socket, sys, time
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(80)]
time.sleep(0.3)
for s in socks:
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
# Wait (however loaded the machine) until the first 40 are answered, then a while longer: the
# others must stay unanswered while the 40 hold their slots.
answered = set()
deadline = time.time() + 30
while len(answered) < 40 and time.time() < deadline:
    ready, _, _ = select.select([s for s in socks if s not in answered], [], [], 0.5)
    answered.update(ready)
time.sleep(1.0)
ready, _, _ = select.select([s for s in socks if s not in answered], [], [], 0)
answered.update(ready)
served, waiting = [], []
for s in socks:
    s.settimeout(5)
    try:
        ok = s in answered and s.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    (served if ok else waiting).append(s)
print(("ok: " if 40 <= len(served) <= 41 else "FAIL: ") +
      "80 connections against a cap of 40: %d served at once, %d wait" % (len(served), len(waiting)))
for s in served:
    s.close()
late = 0
for s in waiting:
    s.settimeout(5)
    try:
        late += s.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        pass
    s.close()
print(("ok: " if late == len(waiting) else "FAIL: ") +
      "%d of %d waiting connections served once slots freed" % (late, len(waiting)))
sys.exit(0 if 40 <= len(served) <= 41 and late == len(waiting) else 1)
PY
finish
