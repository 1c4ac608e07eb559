#!/usr/bin/env bash
# report_html.sh: issue 8's acceptance test for the HTML report. A data directory gets a registry
# (the CLI's own entries) and 13 weeks of ledger activity in the formats of docs/accountability.md
# (`mandate ledger append --time`), shaped as governance theatre: governed work in the first half,
# three times as many AI decisions with little governance in the second. `mandate report
# --format json` and `--html FILE` run on it; headless chromium renders the page, takes a
# screenshot (a real PNG of the window size, not blank, with the charts' colours in it) and dumps
# the DOM, which must hold the SVG charts with their lines, the tables with one row per bucket and
# per workflow, no script and no URL, and figures whose data-value is, for every data-path, the
# JSON report's number (as text) and which show it as the page says (shares with one decimal,
# counts, n/a). Every number of the JSON must be on the page. Chromium is required (installed by
# scripts/setup.sh); without it the test fails. Chromium runs with no profile and no name
# resolution, so the page can load nothing.
set -u
BIN=${MANDATE_BIN:-build/mandate}
work=$(mktemp -d /tmp/mandate-report-html-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

CHROMIUM=$(command -v chromium || command -v chromium-browser) ||
    fail "chromium is not installed; run scripts/setup.sh as root (it installs Debian's chromium)"
command -v python3 >/dev/null || fail "python3 is not installed; run scripts/setup.sh as root"
"$BIN" report --help >/dev/null 2>&1 || fail "'$BIN report' does not run (mandate report is missing)"

D="$work/data"
"$BIN" init --data "$D" --origin report-html.test/log >/dev/null || fail "mandate init"
add() { "$BIN" "$@" --data "$D" --actor 'Human::"olga"' >/dev/null || fail "mandate $*"; }
for h in olga alice bob lena; do add human add "$h"; done
add workflow add support-reply --owner alice --output customer_response --impact customer
add workflow add coding --owner bob --output code --impact production
add agent add drafter --owner alice --workflow support-reply
add agent add coder --owner bob --workflow coding

# The activity: python writes each entry with `mandate ledger append --time` and prints NOW.
cat >"$work/activity.py" <<'EOF'
import json, subprocess, sys, time
BIN, DATA = sys.argv[1], sys.argv[2]
DAY = 86400000
WEEK = 7 * DAY
NOW = (int(time.time() * 1000) // 60000 + 1) * 60000

def append(kind, t, body):
    out = subprocess.run([BIN, 'ledger', 'append', '--data', DATA, '--type', kind, '--time', str(t),
                          json.dumps(body, separators=(',', ':'))], capture_output=True, text=True)
    if out.returncode:
        sys.exit('ledger append failed: ' + out.stderr)
    return json.loads(out.stdout)['index']

def agent_decision(t, agent, workflow, impact, decision, **fields):
    body = {'kind': 'agent', 'decision': decision, 'check': 'none' if decision == 'allow' else 'agent',
            'principal': agent, 'action': fields.pop('action'), 'resource': fields.pop('resource'),
            'workflow': workflow, 'impact': impact, 'policies': ['p-' + workflow[10:-1]],
            'errors': [], 'reason': ''}
    body.update(fields)
    return append('decision', t, body)

DRAFTER, CODER = 'Agent::"drafter"', 'Agent::"coder"'
SUPPORT, CODING = 'Workflow::"support-reply"', 'Workflow::"coding"'
ALICE, BOB, LENA = 'Human::"alice"', 'Human::"bob"', 'Human::"lena"'
for k in range(13):
    t = NOW - (12 - k) * WEEK - 4 * DAY  # inside bucket k (the first bucket is six days long)
    second_half = k > 6
    jti = 'support-%02d' % k
    append('delegation', t, {'op': 'delegate', 'jti': jti, 'subject': DRAFTER, 'delegators': [ALICE],
                             'actions': ['Action::"draft_reply"', 'Action::"send_reply"'],
                             'resources': ['Ticket'], 'iat': t // 1000, 'exp': t // 1000 + 3600,
                             'max_uses': 100, 'depth': 0, 'parent': None, 'task': 'replies',
                             'workflow': SUPPORT, 'actor': ALICE})
    for i in range(1 if second_half else 3):  # approved, accountable, digested, delegated
        s = t + (i + 1) * 600000
        ticket = 'Ticket::"T-%d-%d"' % (k, i)
        req = agent_decision(s, DRAFTER, SUPPORT, ['customer'], 'approval_required',
                             action='Action::"send_reply"', resource=ticket, check='approval',
                             delegator=ALICE, delegation=jti, mode=None, accountable=None,
                             approval={'id': 'apr_%d_%d' % (k, i), 'status': 'required'})
        append('approval', s + 1000, {'event': 'viewed', 'approval': 'apr_%d_%d' % (k, i),
                                      'viewer': LENA})
        append('approval', s + 46000, {'event': 'approved', 'approval': 'apr_%d_%d' % (k, i),
                                       'approver': LENA, 'mode': 'verified', 'dwell_ms': 45000 + i,
                                       'request_index': req, 'principal': DRAFTER,
                                       'action': 'Action::"send_reply"', 'resource': ticket,
                                       'required': 'verified', 'approvers': ['Group::"leads"']})
        allow = agent_decision(s + 60000, DRAFTER, SUPPORT, ['customer'], 'allow',
                               action='Action::"send_reply"', resource=ticket, delegator=ALICE,
                               delegation=jti, mode='verified', accountable=LENA)
        append('outcome', s + 90000, {'decision': allow, 'kind': 'customer_response',
                                      'sha256': '%064x' % (k * 10 + i), 'uri': 'mail://t/%d/%d' % (k, i),
                                      'disposition': 'edited' if i == 2 else 'accepted',
                                      'accountable': LENA, 'mode': 'verified', 'principal': DRAFTER,
                                      'action': 'Action::"send_reply"', 'resource': ticket})
    for i in range(12 if second_half else 0):  # theatre: no approval, owner, digest or delegation
        agent_decision(t + DAY + i * 60000, DRAFTER, SUPPORT, ['customer'], 'allow',
                       action='Action::"send_reply"', resource='Ticket::"U-%d-%d"' % (k, i),
                       delegator=None, delegation=None, mode='auto', accountable=DRAFTER)
    long_jti = 'coding-%02d' % k
    append('delegation', t, {'op': 'delegate', 'jti': long_jti, 'subject': CODER, 'delegators': [BOB],
                             'actions': ['Action::"push"'], 'resources': ['Branch'],
                             'iat': t // 1000, 'exp': t // 1000 + 86400, 'max_uses': 100, 'depth': 0,
                             'parent': None, 'task': 'pushes', 'workflow': CODING, 'actor': BOB})
    for i in range(2):
        allow = agent_decision(t + 2 * DAY + i * 60000, CODER, CODING, ['internal'], 'allow',
                               action='Action::"push"', resource='Branch::"f-%d-%d"' % (k, i),
                               delegator=BOB, delegation=long_jti, mode='delegated', accountable=BOB)
        append('outcome', t + 2 * DAY + i * 60000 + 5000,
               {'decision': allow, 'kind': 'code', 'sha256': '%064x' % (1000 + k * 10 + i),
                'disposition': 'rejected' if k % 4 == 0 and i == 0 else 'accepted',
                'accountable': BOB, 'mode': 'delegated', 'principal': CODER, 'action': 'Action::"push"',
                'resource': 'Branch::"f-%d-%d"' % (k, i)})
    agent_decision(t + 3 * DAY, CODER, CODING, ['production'], 'deny', action='Action::"push"',
                   resource='Branch::"main"', delegator=BOB, delegation=long_jti, mode=None,
                   accountable=None, reason='no permit')
    append('decision', t + 3 * DAY + 1000, {'api': 'authorize', 'principal': BOB,
                                            'action': 'Action::"push"', 'resource': 'Branch::"main"',
                                            'decision': 'allow', 'reasons': ['engineers-push']})
print(NOW)
EOF
NOW=$(python3 "$work/activity.py" "$BIN" "$D") || fail "writing the activity: $NOW"

"$BIN" report --data "$D" --since 90d --now "$NOW" --format json >"$work/report.json" 2>"$work/err" ||
    fail "mandate report --format json: $(cat "$work/err")"
"$BIN" report --data "$D" --since 90d --now "$NOW" --html "$work/report.html" >/dev/null 2>"$work/err" ||
    fail "mandate report --html: $(cat "$work/err")"
[ -s "$work/report.html" ] || fail "mandate report --html wrote nothing"

browse() { # browse ARGS...: headless chromium on the page, with nothing to reach
    timeout 180 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$work/profile" --no-first-run --disable-extensions --disable-sync \
        --disable-background-networking --disable-component-update --disable-default-apps \
        --host-resolver-rules='MAP * ~NOTFOUND' "$@" "file://$work/report.html" 2>>"$work/chromium.log"
}
browse --screenshot="$work/shot.png" --window-size=1280,2400 >/dev/null ||
    fail "chromium --screenshot: $(tail -5 "$work/chromium.log")"
browse --dump-dom >"$work/dom.html" || fail "chromium --dump-dom: $(tail -5 "$work/chromium.log")"

cat >"$work/check.py" <<'EOF'
import json, struct, sys, zlib
from html.parser import HTMLParser

report_path, dom_path, png_path = sys.argv[1:4]
problems = []
def check(ok, what):
    if not ok:
        problems.append(what)

# The JSON report, numbers kept as the text they were printed as.
class Num(str):
    pass
raw = json.load(open(report_path), parse_int=Num, parse_float=Num)
def at(path):
    v = raw
    for seg in path.split('.'):
        if isinstance(v, list) and seg.isdigit() and int(seg) < len(v):
            v = v[int(seg)]
        elif isinstance(v, dict) and seg in v:
            v = v[seg]
        else:
            return KeyError
    return v
def numbers(v, path, out):
    """Paths of every number and null (but owners, shown as text) of the JSON."""
    if isinstance(v, dict):
        for k, m in v.items():
            numbers(m, path + [k], out)
    elif isinstance(v, list):
        for i, m in enumerate(v):
            numbers(m, path + [str(i)], out)
    elif isinstance(v, Num) or v is None and path[-1] != 'owner':
        out.add('.'.join(path))
    return out

series, workflows = raw['series'], raw['workflows']
check(len(series) == 13, '90 days in 7-day buckets is 13 buckets, the report has %d' % len(series))
check(len(workflows) == 2, 'two workflows had decisions, the report has %d' % len(workflows))
check(int(raw['overall']['ai_decisions']) > 0, 'the report counts no AI decisions')
check(raw['theatre']['flag'] is True, 'the planted theatre is not flagged: %r' % raw['theatre'])

# The DOM chromium built.
VOID = {'meta', 'br', 'link', 'img', 'input', 'hr', 'wbr', 'source', 'col', 'area', 'base'}
class Dom(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.figures, self.svgs, self.tables, self.tags = [], [], [], [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        node = {'tag': tag, 'attrs': a, 'text': []}
        if tag == 'svg' and 'md-chart' in a.get('class', '').split():
            node.update(polylines=[], circles=0)
            self.svgs.append(node)
        if tag == 'table' and 'md-table' in a.get('class', '').split():
            node.update(rows=0)
            self.tables.append(node)
        if tag == 'polyline' and self.svgs:
            self.svgs[-1]['polylines'].append((a.get('data-metric'), len(a.get('points', '').split())))
        if tag == 'circle' and self.svgs:
            self.svgs[-1]['circles'] += 1
        if tag == 'tr' and any(n['tag'] == 'tbody' for n in self.stack) and self.tables:
            self.tables[-1]['rows'] += 1
        if 'data-path' in a and 'data-value' in a:
            self.figures.append(node)
        if tag not in VOID:
            self.stack.append(node)
    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()['tag'] == tag:
                break
    def handle_data(self, data):
        for n in self.stack:
            n['text'].append(data)

dom = Dom()
dom.feed(open(dom_path, encoding='utf-8').read())

# No script, nothing loaded, no URL.
for tag, a in dom.tags:
    check(tag not in ('script', 'iframe', 'img', 'link', 'object', 'embed'), '<%s> in the page' % tag)
    for k, v in a.items():
        check(k not in ('src', 'href', 'action') and not k.startswith('on'), '%s= on <%s>' % (k, tag))
        check(v is None or ('//' not in v and 'url(' not in v), '%s="%s" on <%s>' % (k, v, tag))

# Charts: the two over time and one per workflow, with their lines.
charts = [s['attrs'].get('data-series') for s in dom.svgs]
want = ['series', 'series'] + ['workflows.%d.series' % i for i in range(len(workflows))]
check(charts == want, 'charts %r, want %r' % (charts, want))
if len(dom.svgs) >= 2:
    adoption, shares = dom.svgs[0], dom.svgs[1]
    check(('ai_decisions', len(series)) in adoption['polylines'],
          'the adoption chart has no ai_decisions line of %d points: %r' % (len(series), adoption['polylines']))
    check(any(m == 'coverage' for m, _ in adoption['polylines']), 'the adoption chart has no coverage line')
    for m in ('accountable_share', 'approval_share', 'digest_share', 'delegation_share'):
        check(any(name == m for name, _ in shares['polylines']), 'the shares chart has no %s line' % m)
for s in dom.svgs[2:]:
    check(len(s['polylines']) >= 1, 'workflow chart %s has no line' % s['attrs'].get('data-series'))

# Tables: one row per bucket, per workflow, per bucket of each workflow.
rows = {t['attrs'].get('data-path'): t['rows'] for t in dom.tables}
want_rows = {'series': len(series), 'workflows': len(workflows)}
for i, w in enumerate(workflows):
    want_rows['workflows.%d.series' % i] = len(w['series'])
check(rows == want_rows, 'table rows %r, want %r' % (rows, want_rows))

# Figures: each data-value is the JSON's text at its data-path, displayed as the page says.
SHARES = ('accountable_share', 'approval_share', 'digest_share', 'delegation_share',
          'override_rate', 'coverage')
COUNTS = ('decisions', 'ai_decisions', 'ai_allowed', 'impactful', 'outcomes', 'approvals')
shown = set()
for f in dom.figures:
    path, value = f['attrs']['data-path'], f['attrs']['data-value']
    v = at(path)
    text = ''.join(f['text']).strip()
    shown.add(path)
    if v is KeyError:
        check(False, 'data-path %s is not in the JSON report' % path)
        continue
    want = 'null' if v is None else ('true' if v else 'false') if isinstance(v, bool) else v
    check(value == want, '%s: data-value %r, the JSON has %r' % (path, value, want))
    key = path.split('.')[-1]
    if key in SHARES:
        check(text == ('n/a' if v is None else '%.1f%%' % (float(v) * 100)), '%s shows %r for %r' % (path, text, v))
    elif key in COUNTS:
        check(text == '{:,}'.format(int(v)), '%s shows %r for %r' % (path, text, v))
missing = sorted(numbers(raw, [], set()) - shown)
check(not missing, 'numbers of the JSON not on the page: %s' % missing[:10])
check(len(dom.figures) > 14 * (len(series) + 1), 'only %d figures on the page' % len(dom.figures))

# The screenshot: a PNG of the window size, not blank, with the charts' and the verdict's colours.
data = open(png_path, 'rb').read()
check(data[:8] == b'\x89PNG\r\n\x1a\n', 'the screenshot is not a PNG')
pos, idat, ihdr = 8, [], None
while pos + 8 <= len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    if kind == b'IHDR':
        ihdr = struct.unpack('>IIBBBBB', data[pos + 8:pos + 8 + n])
    elif kind == b'IDAT':
        idat.append(data[pos + 8:pos + 8 + n])
    pos += 12 + n
w, h, depth, ctype, _, _, interlace = ihdr
check((w, h) == (1280, 2400), 'screenshot is %dx%d, want 1280x2400' % (w, h))
check(depth == 8 and ctype in (2, 6) and interlace == 0, 'unexpected PNG format %r' % (ihdr,))
bpp = 4 if ctype == 6 else 3
stride = w * bpp
flat = zlib.decompress(b''.join(idat))
check(len(flat) == h * (stride + 1), 'PNG data is %d bytes, want %d' % (len(flat), h * (stride + 1)))
low7 = int.from_bytes(b'\x7f' * stride, 'big')
prev, lines = bytearray(stride), []
for y in range(h):  # undo the PNG filters (RFC 2083 section 6)
    f, line = flat[y * (stride + 1)], bytearray(flat[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if f == 1:
        for i in range(bpp, stride):
            line[i] = (line[i] + line[i - bpp]) & 255
    elif f == 2:  # bytewise sums without carries, on one big integer
        a, b = int.from_bytes(line, 'big'), int.from_bytes(prev, 'big')
        line = bytearray((((a & low7) + (b & low7)) ^ ((a ^ b) & ~low7)).to_bytes(stride, 'big'))
    elif f == 3:
        for i in range(stride):
            line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
    elif f == 4:
        for i in range(bpp):
            line[i] = (line[i] + prev[i]) & 255
        for i in range(bpp, stride):
            x, a, b, c = line[i], line[i - bpp], prev[i], prev[i - bpp]
            if a == b == c:
                line[i] = (x + a) & 255
                continue
            pa, pb = abs(b - c), abs(a - c)
            pc = abs(a + b - 2 * c)
            line[i] = (x + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    lines.append(bytes(line))
    prev = line
pixels = b''.join(lines)
sample = pixels[1::bpp * 5]  # the green channel of every fifth pixel
mean = sum(sample) / len(sample)
var = sum((x - mean) ** 2 for x in sample[::7]) / len(sample[::7])
check(var > 100, 'the screenshot is blank (variance %.1f)' % var)
check(len(set(sample)) > 32, 'the screenshot has %d shades' % len(set(sample)))
def colour(rgb):
    return pixels.count(bytes.fromhex(rgb) + (b'\xff' if bpp == 4 else b''))
for name, rgb in (('AI decisions line', '2563eb'), ('coverage line', '059669'),
                  ('theatre verdict', 'b91c1c')):
    check(colour(rgb) > 200, 'the screenshot has %d pixels of the %s colour #%s' % (colour(rgb), name, rgb))
# the four share lines may cover each other where they are equal
count = sum(colour(rgb) for rgb in ('7c3aed', 'db2777', 'ea580c', '0891b2'))
check(count > 200, 'the screenshot has %d pixels of the share lines\' colours' % count)

for p in problems:
    print('FAIL: ' + p)
print('%d figures, %d charts, %d tables checked; screenshot %dx%d variance %.0f' %
      (len(dom.figures), len(dom.svgs), len(dom.tables), w, h, var))
sys.exit(1 if problems else 0)
EOF
python3 "$work/check.py" "$work/report.json" "$work/dom.html" "$work/shot.png" || exit 1
echo "report_html: ok"
