#!/usr/bin/env python3
"""govern_check.py: checks for the governance generator and review (issue 8), used by
tests/cli/review_planted.sh. Subcommands (each reads the ledger with `mandate ledger get`):

  rules   a second, independent reading of the review's rules (docs/governance.md) over a data
          directory, compared with the manifest of tests/govern/govern_gen.c: the registry state
          from the registry entries, the policy scopes from DIR/policies.cedar (the scope forms the
          generator writes: ==, in, is, in [...]) and appliesTo from DIR/schema.cedarschema;
  shapes  every entry the generator wrote directly has the key set and value types of the entry
          the real code wrote for the same variant (the manifest's references; --plain INDEX: a
          plain decision written by `mandate serve`);
  review  `mandate review --format json` against the manifest: the same (kind, subject) set, and
          every finding's evidence indices exist and are entries of a plausible type;
  report  `mandate report --format json` flags theatre for the manifest's workflow only.

Each prints what differs and exits 1 when something does.
"""
import argparse
import json
import re
import subprocess
import sys

DAY = 86400000
DORMANT_DAYS = 14
FAST_MS = 30000
SHARE = 0.5
MIN_APPROVALS = 10
LONG_S = 28800
IMPACTFUL = {"customer", "employee", "production"}


def ledger(bin_, data):
    out = subprocess.run([bin_, "ledger", "get", "--data", data, "0", "--count", "100000000"],
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# ---- Cedar scopes, as far as this generator writes them ----

TOKEN = re.compile(r'\s*(?:(//[^\n]*)|("(?:[^"\\]|\\.)*")|([A-Za-z_][A-Za-z0-9_]*)|(::|==)|(.))', re.S)


def tokens(text):
    pos, out = 0, []
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        if m.group(1):
            continue
        tok = m.group(2) or m.group(3) or m.group(4) or m.group(5)
        if tok is not None and tok.strip():
            out.append(tok)
    return out


def parse_entity(toks, i):
    """Type::"id" or Ns::Type::"id" -> (uid text, type, next index)."""
    parts = [toks[i]]
    i += 1
    while i < len(toks) and toks[i] == "::":
        parts.append(toks[i + 1])
        i += 2
    if parts[-1].startswith('"'):
        return "::".join(parts), "::".join(parts[:-1]), i
    return None, "::".join(parts), i


def parse_var(toks, i):
    """principal|action|resource [== E | in E | in [E,..] | is T [in E]] -> (constraint, i)."""
    i += 1
    c = {}
    if toks[i] == "is":
        _, c["is"], i = parse_entity(toks, i + 1)
    if toks[i] == "==":
        c["eq"], _, i = parse_entity(toks, i + 1)
    elif toks[i] == "in":
        if toks[i + 1] == "[":
            i += 2
            c["in_list"] = []
            while toks[i] != "]":
                uid, _, i = parse_entity(toks, i)
                c["in_list"].append(uid)
                if toks[i] == ",":
                    i += 1
            i += 1
        else:
            c["in"], _, i = parse_entity(toks, i + 1)
    return c, i


def parse_policies(text):
    toks, i, out = tokens(text), 0, []
    while i < len(toks):
        ann = {}
        while toks[i] == "@":
            ann[toks[i + 1]] = json.loads(toks[i + 3])
            i += 5
        effect = toks[i]
        i += 2  # effect (
        p, i = parse_var(toks, i)
        i += 1  # ,
        a, i = parse_var(toks, i)
        i += 1
        r, i = parse_var(toks, i)
        i += 1  # )
        conditional = False
        while toks[i] in ("when", "unless"):
            conditional = True
            depth, i = 0, i + 1
            while True:
                depth += toks[i] == "{"
                depth -= toks[i] == "}"
                i += 1
                if depth == 0:
                    break
        i += 1  # ;
        out.append({"id": ann.get("id"), "effect": effect, "principal": p, "action": a,
                    "resource": r, "conditional": conditional})
    return out


def parse_applies(text):
    """action name -> (principal types, resource types)."""
    out = {}
    for m in re.finditer(r'action\s+([^;{]+?)\s+appliesTo\s*\{(.*?)\}\s*;', text, re.S):
        body = m.group(2)
        pr = re.search(r'principal\s*:\s*\[([^\]]*)\]', body)
        rs = re.search(r'resource\s*:\s*\[([^\]]*)\]', body)
        types = lambda g: {t.strip() for t in g.group(1).split(",") if t.strip()} if g else set()
        for name in m.group(1).split(","):
            out['Action::"%s"' % name.strip().strip('"')] = (types(pr), types(rs))
    return out


def uid_type(uid):
    return uid.rsplit("::", 1)[0]


def permitted(policy, principal, ancestors, applies):
    """The (action, resource type) pairs a policy scope covers for this principal."""
    p = policy["principal"]
    if "is" in p and p["is"] != uid_type(principal):
        return set()
    if "eq" in p and p["eq"] != principal:
        return set()
    if "in" in p and p["in"] != principal and p["in"] not in ancestors:
        return set()
    a = policy["action"]
    acts = [a["eq"]] if "eq" in a else a.get("in_list") or [x for x in applies if "in" not in a]
    pairs = set()
    for act in acts:
        ptypes, rtypes = applies.get(act, (set(), set()))
        if uid_type(principal) not in ptypes:
            continue
        r = policy["resource"]
        if "is" in r:
            types = {r["is"]} & rtypes
        elif "eq" in r or "in" in r:
            types = {uid_type(r.get("eq") or r["in"])}
        else:
            types = rtypes
        pairs |= {(act, t) for t in types}
    return pairs


# ---- the rules ----

def review(entries, policies, applies, now, days):
    since = now - days * DAY
    win = [e for e in entries if since <= e["time_ms"] < now]
    principals, policy_ids = {}, []
    for e in entries:
        b = e["body"]
        if e["type"] == "registry" and b.get("op") == "add":
            principals[b["uid"]] = dict(b["principal"], kind=b["kind"], status="active", add=e["index"])
        elif e["type"] == "registry" and b.get("op") in ("suspend", "resume", "retire"):
            principals[b["uid"]]["status"] = "active" if b["to"] == "active" else b["to"]
        elif e["type"] == "policy" and b.get("op") == "activate":
            policy_ids = b["policies"]
    status = lambda uid: principals.get(uid, {}).get("status", "missing")
    findings = set()
    agent_dec = [e for e in win if e["type"] == "decision" and e["body"].get("kind") == "agent"]
    decided = {e["body"]["principal"] for e in agent_dec}
    recent = {e["body"]["principal"] for e in agent_dec if e["time_ms"] >= now - DORMANT_DAYS * DAY}
    agents = {u: p for u, p in principals.items() if p["kind"] == "agent"}

    def ancestors(uid):
        out, todo = set(), list(principals.get(uid, {}).get("member_of", []))
        if principals.get(uid, {}).get("workflow"):
            todo.append(principals[uid]["workflow"])
        while todo:
            g = todo.pop()
            if g not in out:
                out.add(g)
                todo.extend(principals.get(g, {}).get("member_of", []))
        return out

    exercised = {}
    for e in agent_dec:
        if e["body"]["decision"] == "allow":
            exercised.setdefault(e["body"]["principal"], set()).add(
                (e["body"]["action"], uid_type(e["body"]["resource"])))
    by_workflow = {}
    for uid, a in agents.items():
        perm = set()
        for p in policies:
            if p["effect"] == "permit":
                perm |= permitted(p, uid, ancestors(uid), applies)
        for p in policies:
            if p["effect"] == "forbid" and not p["conditional"]:
                perm -= permitted(p, uid, ancestors(uid), applies)
        w = by_workflow.setdefault(a.get("workflow"), [set(), set(), False])
        w[0] |= perm
        w[1] |= exercised.get(uid, set())
        w[2] |= uid in decided
        if uid in decided and perm - exercised.get(uid, set()):
            findings.add(("privilege_slack", uid))
        if a["status"] == "active":
            if status(a.get("owner")) != "active":
                findings.add(("orphan_agent", uid))
            if uid not in decided and uid not in recent:
                findings.add(("dormant_agent", uid))
    for wf, (perm, ex, any_decision) in by_workflow.items():
        if wf and any_decision and perm - ex:
            findings.add(("privilege_slack", wf))
    for uid, w in principals.items():
        if w["kind"] == "workflow" and w["status"] == "active" and status(w.get("owner")) in (
                "departed", "missing"):
            findings.add(("ownerless_workflow", uid))
    for e in agent_dec:
        if e["body"]["decision"] == "deny":
            findings.add(("out_of_envelope", e["body"]["principal"]))
    by_index = {e["index"]: e for e in entries}
    delegations = {e["body"]["jti"]: e for e in entries if e["type"] == "delegation"}
    approvers = {}
    for e in win:
        b = e["body"]
        if e["type"] != "approval" or b["event"] not in ("approved", "rejected"):
            continue
        s = approvers.setdefault(b["approver"], [0, 0, 0])
        s[0] += 1
        s[1] += b["event"] == "approved"
        s[2] += b["dwell_ms"] is None or b["dwell_ms"] < FAST_MS
        if b["event"] == "approved":
            req = by_index.get(b["request_index"], {}).get("body", {})
            dl = delegations.get(req.get("delegation"), {}).get("body", {})
            root = (dl.get("delegators") or [req.get("delegator")])[-1]
            owner = principals.get(req.get("principal"), {}).get("owner")
            if b["approver"] in (root, owner):
                findings.add(("separation_breach", b["approver"]))
    for who, (n, approved, fast) in approvers.items():
        if n >= MIN_APPROVALS and (fast > SHARE * n or approved == n):
            findings.add(("rubber_stamp", who))
    named = {e["body"].get("delegation") for e in entries if e["type"] == "decision"}
    for e in win:
        b = e["body"]
        if e["type"] == "delegation" and b.get("op") == "delegate":
            if b["exp"] - b["iat"] > LONG_S:
                findings.add(("long_delegation", b["jti"]))
            if b["exp"] * 1000 < now and b["jti"] not in named:
                findings.add(("unused_delegation", b["jti"]))
    used = set()
    for e in win:
        if e["type"] == "decision":
            used |= set(e["body"].get("policies") or []) | set(e["body"].get("reasons") or [])
    for pid in policy_ids:
        if pid not in used:
            findings.add(("idle_policy", pid))
    for scope, t in theatre(entries, win, now, days).items():
        if t["flag"]:
            findings.add(("theatre", scope))
    return findings


def metrics(decs, outcomes, delegations, workflows_with_outputs):
    ai = [d for d in decs if d.get("kind") == "agent"]
    allowed = [d for d in ai if d["decision"] == "allow"]
    impactful = [d for d in allowed if IMPACTFUL & set(d.get("impact") or [])]

    def share(num, den):
        return None if den == 0 else num / den

    def short(d):
        dl = delegations.get(d.get("delegation"))
        return dl is not None and dl["exp"] - dl["iat"] <= LONG_S and dl["actions"] and dl["resources"]

    shares = [
        share(sum(1 for d in impactful if (d.get("accountable") or "").startswith("Human::")),
              len(impactful)),
        share(sum(1 for d in impactful if d.get("mode") in ("verified", "decided")), len(impactful)),
        share(sum(1 for d in allowed if d["_index"] in outcomes),
              sum(1 for d in allowed if d.get("workflow") in workflows_with_outputs)),
        share(sum(1 for d in allowed if short(d)), len(allowed)),
    ]
    present = [s for s in shares if s is not None]
    return len(ai), (sum(present) / len(present) if present else None)


def theatre(entries, win, now, days):
    """Per workflow and overall ("*"): adoption growing while coverage falls (docs/report.md)."""
    since = now - days * DAY
    bucket = 7 * DAY if days >= 28 else DAY
    n = -(-(now - since) // bucket)
    half = n // 2
    first_end = now - (n - half) * bucket  # buckets [0, half) end here
    second_start = now - half * bucket
    outcomes = {e["body"]["decision"] for e in entries if e["type"] == "outcome" and e["body"].get("sha256")}
    delegations = {e["body"]["jti"]: e["body"] for e in entries if e["type"] == "delegation"}
    with_outputs = {e["body"]["uid"] for e in entries if e["type"] == "registry"
                    and e["body"].get("op") == "add" and e["body"]["principal"].get("outputs")}
    decs = [dict(e["body"], _index=e["index"], _t=e["time_ms"]) for e in win if e["type"] == "decision"]
    scopes = {"*": decs}
    for d in decs:
        if d.get("workflow"):
            scopes.setdefault(d["workflow"], []).append(d)
    out = {}
    for scope, ds in scopes.items():
        a1, c1 = metrics([d for d in ds if d["_t"] < first_end], outcomes, delegations, with_outputs)
        a2, c2 = metrics([d for d in ds if d["_t"] >= second_start], outcomes, delegations, with_outputs)
        adoption = None if a1 == 0 else a2 / a1 - 1
        coverage = None if c1 is None or c2 is None else c2 - c1
        flag = (adoption is not None and coverage is not None and adoption >= 0.2
                and coverage <= -0.1 and a1 >= 20 and a2 >= 20)
        out[scope] = {"flag": flag, "adoption_change": adoption, "coverage_change": coverage,
                      "first": a1, "second": a2}
    return out


# ---- entry shapes ----

# Keys whose value is null in some entries the real code writes and a value in others.
NULLABLE = {"accountable", "approver", "dwell_ms", "mode", "parent", "reason", "request_index",
            "token_reason", "uri", "viewed_ms", "workflow"}


def variant(e):
    b, t = e["body"], e["type"]
    if t == "decision":
        if b.get("api") == "authorize":
            return "decision/plain"
        v = "decision/agent/" + b["decision"]
        return v + "+approval" if b["decision"] == "allow" and b.get("approval") else v
    if t == "approval":
        return "approval/" + b["event"]
    if t == "delegation":
        return "delegation/" + b.get("op", "")
    return t


def type_name(v):
    return "null" if v is None else type(v).__name__


def shape_diff(ref, got, path="body", key=None):
    if isinstance(ref, dict) and isinstance(got, dict):
        out = []
        if set(ref) != set(got):
            out.append("%s: extra keys %s, missing keys %s"
                       % (path, sorted(set(got) - set(ref)), sorted(set(ref) - set(got))))
        for k in sorted(set(ref) & set(got)):
            out += shape_diff(ref[k], got[k], path + "." + k, k)
        return out
    if type_name(ref) != type_name(got):
        if key in NULLABLE and (ref is None or got is None):
            return []
        return ["%s: %s where the real entry has %s" % (path, type_name(got), type_name(ref))]
    if isinstance(ref, list) and ref and got:
        return shape_diff(ref[0], got[0], path + "[]")
    return []


def shapes(o, entries):
    m = json.load(open(o.manifest))
    refs = {k: entries[i] for k, i in m["references"].items()}
    if o.plain is not None:
        refs["decision/plain"] = entries[o.plain]
    real = set()
    for lo, hi in m["real"]:
        real |= set(range(lo, hi))
    if o.plain is not None:
        real.add(o.plain)
    bad, seen, unchecked = 0, {}, set()
    for e in entries:
        if e["index"] in real:
            continue
        v = variant(e)
        seen[v] = seen.get(v, 0) + 1
        if v not in refs:
            unchecked.add(v)
            continue
        diff = shape_diff(refs[v]["body"], e["body"])
        if diff:
            bad += 1
            if bad <= 10:
                print("entry %d (%s) differs from the real entry %d: %s"
                      % (e["index"], v, refs[v]["index"], "; ".join(diff)))
    for v in sorted(unchecked):
        print("no entry written by the real code to compare %s with" % v)
    print("shapes: %s; %d differ" % (", ".join("%s %d" % kv for kv in sorted(seen.items())), bad))
    return 1 if bad or unchecked else 0


# ---- the review's and the report's answers ----

PLAUSIBLE = {
    "privilege_slack": {"decision", "policy", "registry"},
    "out_of_envelope": {"decision"},
    "orphan_agent": {"registry"},
    "ownerless_workflow": {"registry"},
    "dormant_agent": {"registry"},
    "rubber_stamp": {"approval", "decision"},
    "separation_breach": {"approval", "decision", "delegation"},
    "long_delegation": {"delegation"},
    "unused_delegation": {"delegation"},
    "idle_policy": {"policy"},
    "theatre": {"decision", "outcome", "approval", "delegation"},
}


def compare(want, got, what):
    for k, s in sorted(want - got):
        print("missing: %s %s" % (k, s))
    for k, s in sorted(got - want):
        print("extra: %s %s" % (k, s))
    print("%s: %d findings, %d planted, %d missing, %d extra"
          % (what, len(got), len(want), len(want - got), len(got - want)))
    return 0 if want == got else 1


def check_review(o, entries):
    m, r = json.load(open(o.manifest)), json.load(open(o.review))
    want = {(f["kind"], f["subject"]) for f in m["findings"]}
    got = [(f["kind"], f["subject"]) for f in r["findings"]]
    rc = compare(want, set(got), "review")
    if len(got) != len(set(got)):
        print("the review reports some (kind, subject) more than once")
        rc = 1
    for f in r["findings"]:
        ev = f.get("evidence")
        problems = []
        if not isinstance(ev, list) or (not ev and f["kind"] != "theatre"):
            problems.append("no evidence")
        for i in ev or []:
            if not isinstance(i, int) or not 0 <= i < len(entries):
                problems.append("index %r is not in the ledger" % (i,))
            elif entries[i]["type"] not in PLAUSIBLE.get(f["kind"], set()):
                problems.append("index %d is a %s entry" % (i, entries[i]["type"]))
        if ev != sorted(ev or []) or len(ev or []) > 20 or f.get("evidence_count", 0) < len(ev or []):
            problems.append("evidence not ascending, over 20, or over evidence_count")
        if problems:
            print("finding %s %s: %s" % (f["kind"], f["subject"], "; ".join(problems)))
            rc = 1
    if r["ledger"]["size"] != len(entries):
        print("the review read %d entries of %d" % (r["ledger"]["size"], len(entries)))
        rc = 1
    return rc


def check_report(o):
    m, r = json.load(open(o.manifest)), json.load(open(o.report))
    want = {("theatre", m["theatre_workflow"])} if m.get("theatre_workflow") else set()
    got = {("theatre", w["workflow"]) for w in r["workflows"] if w["theatre"]["flag"]}
    if r["theatre"]["flag"]:
        got.add(("theatre", "*"))
    return compare(want, got, "report theatre")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["rules", "shapes", "review", "report"])
    ap.add_argument("--bin", default="build/mandate")
    ap.add_argument("--data")
    ap.add_argument("--now", type=int)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--plain", type=int, help="index of a plain decision from `mandate serve`")
    ap.add_argument("--review", help="the output of mandate review --format json")
    ap.add_argument("--report", help="the output of mandate report --format json")
    ap.add_argument("--theatre", action="store_true", help="rules: print the theatre figures")
    o = ap.parse_args()
    if o.command == "report":
        return check_report(o)
    entries = ledger(o.bin, o.data)
    if o.command == "shapes":
        return shapes(o, entries)
    if o.command == "review":
        return check_review(o, entries)
    policies = parse_policies(open(o.data + "/policies.cedar").read())
    applies = parse_applies(open(o.data + "/schema.cedarschema").read())
    found = review(entries, policies, applies, o.now, o.days)
    if o.theatre:
        since = o.now - o.days * DAY
        win = [e for e in entries if since <= e["time_ms"] < o.now]
        for scope, t in sorted(theatre(entries, win, o.now, o.days).items()):
            print("theatre", scope, json.dumps(t))
    want = {(f["kind"], f["subject"]) for f in json.load(open(o.manifest))["findings"]}
    return compare(want, found, "rules")


if __name__ == "__main__":
    sys.exit(main())
