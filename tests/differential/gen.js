#!/usr/bin/env node
// gen.js: deterministic generator of random Cedar authorization cases for differential testing
// (tests/differential/run.sh). No npm dependencies; the PRNG is our own (sfc32 seeded from a hash
// of "seed:index"), so case k of a seed is the same whatever --start and --count are.
//
// usage: node gen.js [--seed S] [--count N] [--start K] [--stats]
//
// Writes one JSON object per line, in the cedar-oracle's request-mode input format:
//   {"case":"S:K",
//    "policies":{"staticPolicies":"<text: ids policy0..>","templates":{"t0":"<text>",...},
//                "templateLinks":[{"templateId":"t0","newId":"link0","values":{"?principal":uid}}]},
//    "entities":[{uid, attrs, parents, tags}], "requests":[{principal, action, resource, context}]}
// Each case is a small schema-less world: entity types in and out of namespaces, attributes of
// every kind (bool, long, string, set, record, entity refs, decimal/ip/datetime/duration through
// __extn), hierarchies with shared ancestors and dangling parents, tags; 1-6 policies with every
// scope form and random conditions, well typed and ill typed, so that allow, deny and errors all
// occur; 1-5 requests with contexts. Longs in JSON stay within +/-(2^53-1) (the JS oracle cannot
// carry more); policy literals go up to the i64 limits so that overflow is exercised.
'use strict';

// ---- PRNG ----
function xmur3(str) {
  let h = 1779033703 ^ str.length;
  for (let i = 0; i < str.length; i++) {
    h = Math.imul(h ^ str.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  return () => {
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    return (h ^= h >>> 16) >>> 0;
  };
}

class Rng {
  constructor(key) {
    const s = xmur3(key);
    this.a = s(); this.b = s(); this.c = s(); this.d = s();
    for (let i = 0; i < 12; i++) this.u32();
  }
  u32() { // sfc32
    let { a, b, c, d } = this;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    this.a = a; this.b = b; this.c = c; this.d = d;
    return t >>> 0;
  }
  int(n) { return n <= 1 ? 0 : this.u32() % n; }
  range(lo, hi) { return lo + this.int(hi - lo + 1); } // inclusive
  chance(p) { return this.u32() / 4294967296 < p; }
  pick(arr) { return arr[this.int(arr.length)]; }
  // weighted pick: [[w, x], ...]
  wpick(pairs) {
    let tot = 0;
    for (const [w] of pairs) tot += w;
    let r = this.u32() / 4294967296 * tot;
    for (const [w, x] of pairs) { if ((r -= w) < 0) return x; }
    return pairs[pairs.length - 1][1];
  }
  shuffle(arr) {
    const a = arr.slice();
    for (let i = a.length - 1; i > 0; i--) { const j = this.int(i + 1); [a[i], a[j]] = [a[j], a[i]]; }
    return a;
  }
}

// ---- pools ----
const ENTITY_TYPES = ['User', 'Group', 'Photo', 'Album', 'NS::Doc', 'NS::Folder', 'A::B::Res', 'Team'];
const ACTION_TYPES = ['Action', 'NS::Action'];
const IDS = ['a', 'b', 'c', 'alice', 'bob', 'x1', '', 'with space', 'q"uote', 'back\\slash', 'ünï',
  'tab\there', 'nl\nx', '*', 'a*b', '日本', 'emoji😀'];
const ACTION_IDS = ['view', 'edit', 'delete', 'share', 'read', 'write', 'all', 'readOnly'];
const IDENT_ATTRS = ['age', 'name', 'level', 'owner', 'flags', 'meta', 'addr', 'when', 'amount', 'dur',
  'ok', 'x', 'y', 'z', 'principal', 'type', 'id', 'tags'];
const ODD_ATTRS = ['if', 'has', 'in', 'like', 'is', 'then', 'true', 'with space', '-dash', 'ünï', '',
  '"q"', 'a.b'];
const RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'like', 'has', '__cedar']);
const STRINGS_TEXT = ['nul\0byte', "it's", 'a\u0001b', '\0', 'aé'];
const STRINGS = ['', 'a', 'abc', 'ABC', 'hello world', 'a*b', '*', '**', 'x\ny', 'tab\t', 'quote"q',
  'back\\', 'ünïcödé', '日本語', '😀', 'alice', 'bob', 'admin', 'prefix-suffix', 'aaa', 'ab', 'ba'];

const DEC_OK = ['0.0', '1.5', '-2.25', '123.4567', '922337203685477.5807', '-922337203685477.5808',
  '0.1', '1.0', '1.00', '-0.0001', '3.14', '100.0', '0.0001', '-1.5'];
const DEC_BAD = ['1', '1.23456', 'abc', '1.', '.5', '922337203685477.5808', '--1.0', '1.0e3', '',
  ' 1.0', '+1.0', '-922337203685477.5809', '1..0'];
const IP_OK = ['127.0.0.1', '10.0.0.0/8', '10.1.2.3', '192.168.1.1/24', '::1', 'ff02::1',
  '2001:db8::/32', '0.0.0.0/0', '224.0.0.1', '255.255.255.255', '127.0.0.0/8',
  '::/0', '::', '1.2.3.4/32', 'fe80::1/64', '10.0.0.1', '192.168.0.0/16', '::1/128'];
const IP_BAD = ['::ffff:1.2.3.4', '1.2.3', '256.1.1.1', '1.2.3.4/33', '::1/129', '01.2.3.4', 'abc', '', '1.2.3.4/',
  ':::1', '1.2.3.4 ', '1.2.3.4/-1', '::1:/64', '1.2.3.4/08', '[::1]'];
const DT_OK = ['2024-10-15', '2024-10-15T11:35:00Z', '2024-10-15T11:35:00.123Z',
  '2024-10-15T11:35:00+0100', '2024-10-15T11:35:00.001-2359', '1970-01-01', '0001-01-01',
  '9999-12-31T23:59:59.999Z', '1969-12-31T23:59:59Z', '2024-02-29', '2000-01-01T00:00:00Z',
  '2024-10-16', '2024-10-15T00:00:00Z', '1900-03-01T12:00:00.500+1200'];
const DT_BAD = ['2024-13-01', '2023-02-29', '2024-10-15T25:00:00Z', '2024-10-15 11:35:00Z',
  '24-10-15', '2024-10-15T11:35:00', '2024-10-15T11:35:00+01:00', '', 'now', '2024-10-15T11:35:00.1Z',
  '2024-10-15T11:35:60Z', '2024-00-10', '2024-10-15T11:35:00+2400', '+2024-10-15'];
const DUR_OK = ['1d', '2h30m', '-1h', '1d2h3m4s5ms', '0ms', '1ms', '100000000d', '24h', '1440m',
  '86400000ms', '-1d12h', '59s', '0d', '3h', '-5ms', '106751991167d'];
const DUR_BAD = ['1x', '', '1h1d', '1.5h', 'h', '--1h', '1d 2h', '1d-2h', '106751991168d', '+1h',
  '1H', '1hh', '9223372036854775808ms'];
const SAFE = 9007199254740991; // 2^53 - 1
const LONG_JSON = [0, 1, -1, 2, 3, 7, 10, -10, 42, 100, 1000, -1000, 65535, 2147483647, -2147483648,
  4294967296, SAFE, -SAFE, SAFE - 1, 1 << 30];
const LONG_TEXT = ['0', '1', '2', '3', '10', '42', '100', '9223372036854775807', '4611686018427387904',
  '3037000500', '3037000499', '2147483648', '9007199254740993', '4611686018427387903',
  '9223372036854775806', '1000000'];

const KINDS = ['bool', 'long', 'string', 'entity', 'set', 'record', 'decimal', 'ip', 'datetime', 'duration'];

// ---- Cedar text helpers ----
// Escapes vary on purpose (\u{..}, \', \0) so that both parsers' unescaping is compared. rnd may
// be null (plain escapes only).
let strRng = null;
function cedarStr(s, pattern) {
  let out = '"';
  const r = strRng;
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '*' && pattern === 'literal-star') out += '\\*';
    else if (ch === '*' && pattern) out += '*';
    else if (r && r.chance(0.03)) out += '\\u{' + c.toString(16) + '}';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\0') out += '\\0';
    else if (ch === "'" && r && r.chance(0.5)) out += "\\'";
    else if (c < 0x20 || c === 0x7f) out += '\\u{' + c.toString(16) + '}';
    else out += ch;
  }
  return out + '"';
}
const isIdent = (s) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) && !RESERVED.has(s);
const uidText = (u) => `${u.type}::${cedarStr(u.id)}`;
const uidKey = (u) => u.type + '\u0001' + u.id;

// Expressions carry their text and precedence: 0 if, 1 ||, 2 &&, 3 relation, 4 + -, 5 *, 6 unary,
// 7 member/primary. A child is parenthesised when its precedence is below what the grammar needs.
const E = (t, p) => ({ t, p });

class Gen {
  constructor(rng) {
    this.r = rng;
  }

  par(e, need) {
    if (e.p < need || (e.p < 7 && this.r.chance(0.08))) return '(' + e.t + ')';
    return e.t;
  }

  // ---- values (for entities, context and literals) ----
  // A value: {k: kind, json, text}. text is a Cedar expression producing the same value.
  value(kind, depth) {
    const r = this.r;
    switch (kind) {
      case 'bool': { const b = r.chance(0.5); return { k: kind, json: b, text: String(b) }; }
      case 'long': {
        const n = r.pick(LONG_JSON);
        return { k: kind, json: n, text: n < 0 ? '-' + String(-n) : String(n) };
      }
      case 'string': { const s = r.pick(STRINGS); return { k: kind, json: s, text: cedarStr(s) }; }
      case 'entity': {
        const u = this.someUid();
        if (r.chance(0.1)) { // implicit form: without a schema this is a record, not an entity
          return { k: 'record', json: { type: u.type, id: u.id },
            text: `{type: ${cedarStr(u.type)}, id: ${cedarStr(u.id)}}`, fields: { type: 'string', id: 'string' } };
        }
        return { k: kind, json: { __entity: { type: u.type, id: u.id } }, text: uidText(u) };
      }
      case 'set': {
        const ek = depth > 0 ? r.pick(KINDS) : r.pick(['long', 'string', 'bool', 'entity']);
        const n = r.int(4);
        const items = [];
        for (let i = 0; i < n; i++) {
          items.push(this.value(r.chance(0.1) && depth > 0 ? r.pick(KINDS) : ek, depth - 1));
        }
        return { k: kind, elem: ek, json: items.map((v) => v.json), text: '[' + items.map((v) => v.text).join(', ') + ']' };
      }
      case 'record': {
        const n = r.int(4);
        const names = r.shuffle(IDENT_ATTRS.concat(ODD_ATTRS.slice(0, 4))).slice(0, n);
        const json = {}, fields = {}, parts = [];
        for (const nm of names) {
          const v = this.value(depth > 0 ? r.pick(KINDS) : r.pick(['long', 'string', 'bool']), depth - 1);
          json[nm] = v.json;
          fields[nm] = v.k;
          parts.push((isIdent(nm) && r.chance(0.7) ? nm : cedarStr(nm)) + ': ' + v.text);
        }
        return { k: kind, json, fields, sub: json, text: '{' + parts.join(', ') + '}' };
      }
      case 'decimal': case 'ip': case 'datetime': case 'duration': {
        const pool = { decimal: DEC_OK, ip: IP_OK, datetime: DT_OK, duration: DUR_OK }[kind];
        const s = r.pick(pool);
        return { k: kind, json: { __extn: { fn: kind, arg: s } }, text: `${kind}(${cedarStr(s)})` };
      }
    }
    throw new Error('bad kind ' + kind);
  }

  someUid() {
    const r = this.r, w = this.w;
    if (r.chance(0.85)) return r.pick(w.uids);
    if (r.chance(0.5)) return r.pick(w.dangling);
    return r.pick(w.actions);
  }

  // ---- the world ----
  world() {
    const r = this.r;
    const types = r.shuffle(ENTITY_TYPES).slice(0, r.range(2, 4));
    const atypes = r.chance(0.7) ? ['Action'] : r.chance(0.5) ? ['NS::Action'] : ACTION_TYPES.slice();
    const uids = [];
    const seen = new Set();
    for (const t of types) {
      const n = r.range(1, 3);
      for (let i = 0; i < n; i++) {
        const u = { type: t, id: r.chance(0.75) ? r.pick(IDS.slice(0, 6)) : r.pick(IDS) };
        if (!seen.has(uidKey(u))) { seen.add(uidKey(u)); uids.push(u); }
      }
    }
    const actions = [];
    for (const id of r.shuffle(ACTION_IDS).slice(0, r.range(2, 4))) {
      const u = { type: r.pick(atypes), id };
      if (!seen.has(uidKey(u))) { seen.add(uidKey(u)); actions.push(u); }
    }
    const dangling = [];
    for (let i = 0; i < 2; i++) {
      const u = { type: r.pick(types), id: 'ghost' + i };
      if (!seen.has(uidKey(u))) { seen.add(uidKey(u)); dangling.push(u); }
    }
    this.w = { types, atypes, uids, actions, dangling, attrs: [], ctx: [], req: { principal: [], resource: [], action: [] } };
    const w = this.w;

    // entities: parents only point to later entities (a DAG), sometimes to a dangling uid
    const order = r.shuffle(uids);
    const entities = [];
    for (let i = 0; i < order.length; i++) {
      const u = order[i];
      const parents = [];
      const np = r.wpick([[3, 0], [4, 1], [2, 2], [1, 3]]);
      for (let j = 0; j < np; j++) {
        let p;
        if (i + 1 < order.length && r.chance(0.85)) p = order[r.range(i + 1, order.length - 1)];
        else p = r.pick(dangling.length ? dangling : order);
        if (p && uidKey(p) !== uidKey(u) && !parents.some((q) => uidKey(q) === uidKey(p))) parents.push(p);
      }
      const attrs = {};
      const na = r.wpick([[1, 0], [3, 1], [4, 2], [3, 3], [2, 5]]);
      for (const nm of r.shuffle(IDENT_ATTRS.concat(r.chance(0.3) ? ODD_ATTRS : [])).slice(0, na)) {
        const v = this.value(r.pick(KINDS), 2);
        attrs[nm] = v.json;
        this.note(w.attrs, [nm], v);
      }
      const e = { uid: this.uidJson(u), attrs, parents: parents.map((p) => this.uidJson(p)) };
      if (r.chance(0.35)) {
        const tags = {};
        for (const nm of r.shuffle(['t1', 't2', 'color', 'level', 'with space', '']).slice(0, r.range(0, 3))) {
          const v = this.value(r.pick(['string', 'long', 'bool', 'set', 'entity', 'decimal']), 1);
          tags[nm] = v.json;
          w.tags = w.tags || [];
          w.tags.push({ name: nm, v });
        }
        e.tags = tags;
      }
      entities.push(e);
    }
    // rarely: invalid entities (Cedar rejects them; the engine must too)
    if (r.chance(0.006) && entities.length > 1) {
      const e0 = entities[0], e1 = entities[entities.length - 1];
      switch (r.int(8)) {
        case 0: e1.parents.push(e0.uid); e0.parents.push(e1.uid); break; // a cycle
        case 1: e0.parents.push(e0.uid); break; // its own parent
        case 2: entities.push(JSON.parse(JSON.stringify(e0))); break; // a duplicate uid
        case 3: e0.attrs.bad = 1.5; break;
        case 4: e0.attrs.bad = null; break;
        case 5: e0.attrs.bad = { __extn: { fn: r.pick(['decimal', 'ip', 'datetime', 'duration']), arg: 'x1' } }; break;
        case 6: e0.uid = { type: r.pick(['1User', 'if', 'NS::in', 'A:B']), id: 'a' }; break;
        case 7: e0.attrs.bad = { __extn: { fn: 'nosuchfn', arg: '1' } }; break;
      }
    }
    // action entities with a group hierarchy (parents are later actions)
    const aorder = r.shuffle(actions);
    for (let i = 0; i < aorder.length; i++) {
      if (r.chance(0.2)) continue; // action absent from the store
      const parents = [];
      if (i + 1 < aorder.length && r.chance(0.6)) parents.push(aorder[r.range(i + 1, aorder.length - 1)]);
      entities.push({ uid: this.uidJson(aorder[i]), attrs: {}, parents: parents.map((p) => this.uidJson(p)) });
    }
    return r.shuffle(entities);
  }

  uidJson(u) {
    return this.r.chance(0.2) ? { __entity: { type: u.type, id: u.id } } : { type: u.type, id: u.id };
  }

  // Records where a (path, value) is known, so expressions can reach attributes that exist.
  note(list, path, v) {
    list.push({ path, k: v.k, v });
    if (v.k === 'record' && v.fields && path.length < 3) {
      for (const nm of Object.keys(v.fields)) {
        list.push({ path: path.concat([nm]), k: v.fields[nm], v: null });
      }
    }
  }

  context() {
    const r = this.r;
    const ctx = {};
    const n = r.wpick([[1, 0], [2, 1], [3, 3], [2, 5]]);
    for (const nm of r.shuffle(IDENT_ATTRS.concat(ODD_ATTRS.slice(0, 3))).slice(0, n)) {
      const v = this.value(r.pick(KINDS), 2);
      ctx[nm] = v.json;
      this.note(this.w.ctx, [nm], v);
    }
    return ctx;
  }

  request() {
    const r = this.r, w = this.w;
    const w2 = this.w;
    const pick = (k, u) => { w2.req[k].push(u); return u; };
    const pu0 = r.chance(0.85) ? r.pick(w.uids) : r.chance(0.5) ? r.pick(w.dangling) : r.pick(w.actions);
    const pu = pick('principal', pu0);
    const ru0 = r.chance(0.85) ? r.pick(w.uids) : r.chance(0.5) ? r.pick(w.dangling) : r.pick(w.actions);
    const ru = pick('resource', ru0);
    const au = pick('action', r.chance(0.95) ? r.pick(w.actions) : r.pick(w.uids));
    return { principal: this.uidJson(pu), action: this.uidJson(au), resource: this.uidJson(ru), context: this.context() };
  }

  // ---- expressions ----
  accessText(base, path) {
    let t = base;
    for (const nm of path) t += isIdent(nm) && this.r.chance(0.8) ? '.' + nm : '[' + cedarStr(nm) + ']';
    return t;
  }

  // An attribute access that (sometimes) has the wanted kind; null when none is known.
  attrOf(kind) {
    const r = this.r, w = this.w;
    const cands = [];
    for (const a of w.attrs) if (a.k === kind) cands.push(['ent', a]);
    for (const a of w.ctx) if (a.k === kind) cands.push(['ctx', a]);
    if (!cands.length) return null;
    const [src, a] = r.pick(cands);
    let base;
    if (src === 'ctx') base = 'context';
    else base = r.wpick([[4, 'principal'], [4, 'resource'], [1, 'action'], [2, null]]) || uidText(r.pick(w.uids));
    return E(this.accessText(base, a.path), 7);
  }

  lit(kind, d) {
    const r = this.r;
    if (kind === 'long' && r.chance(0.3)) {
      const t = r.pick(LONG_TEXT);
      if (t === '9223372036854775807' && r.chance(0.3)) return E('-9223372036854775808', 6);
      return r.chance(0.3) ? E('-' + t, 6) : E(t, 7);
    }
    if (kind === 'entity') {
      const w = this.w;
      return E(uidText(r.wpick([[6, r.pick(w.uids)], [2, r.pick(w.actions)], [1, r.pick(w.dangling.length ? w.dangling : w.uids)]])), 7);
    }
    if (kind === 'set' || kind === 'record') return this.compound(kind, d);
    if (['decimal', 'ip', 'datetime', 'duration'].includes(kind)) return this.ext(kind, d);
    if (kind === 'string' && r.chance(0.1)) return E(cedarStr(r.pick(STRINGS_TEXT.concat(STRINGS))), 7);
    const v = this.value(kind, 0);
    return E(v.text, v.text.startsWith('-') ? 6 : 7);
  }

  ext(kind, d) {
    const r = this.r;
    const ok = { decimal: DEC_OK, ip: IP_OK, datetime: DT_OK, duration: DUR_OK }[kind];
    const bad = { decimal: DEC_BAD, ip: IP_BAD, datetime: DT_BAD, duration: DUR_BAD }[kind];
    let arg;
    if (r.chance(this.errRate * 0.5)) arg = cedarStr(r.pick(bad));
    else if (r.chance(0.05) && d > 0) arg = this.expr('string', d - 1).t; // non-literal argument
    else arg = cedarStr(r.pick(ok));
    if (r.chance(0.01)) arg = r.chance(0.5) ? '' : arg + ', ' + arg; // wrong arity
    return E(`${kind}(${arg})`, 7);
  }

  // Another kind than the one asked for (a type error somewhere, usually).
  wrongKind(kind) {
    const r = this.r;
    let k;
    do k = r.pick(KINDS); while (k === kind);
    return k;
  }

  expr(kind, d) {
    const r = this.r;
    if (r.chance(this.errRate)) {
      if (r.chance(0.3)) { // a missing attribute
        const base = r.pick(['principal', 'resource', 'context', uidText(r.pick(this.w.uids))]);
        return E(this.accessText(base, [r.pick(IDENT_ATTRS.concat(ODD_ATTRS))]), 7);
      }
      kind = this.wrongKind(kind);
    }
    if (d <= 0 || r.chance(0.25)) {
      if (r.chance(0.35)) {
        const a = this.attrOf(kind);
        if (a) return a;
      }
      if (kind === 'entity' && r.chance(0.6)) return E(r.pick(['principal', 'resource', 'action']), 7);
      if (kind === 'record' && r.chance(0.5)) return E('context', 7);
      return this.lit(kind, d);
    }
    return this.compound(kind, d);
  }

  compound(kind, d) {
    const r = this.r;
    const x = (k) => this.expr(k, d - 1);
    switch (kind) {
      case 'bool': return this.boolExpr(d);
      case 'long': {
        const f = r.wpick([[3, 'add'], [2, 'sub'], [2, 'mul'], [1, 'neg'], [1, 'if'], [1, 'dur'], [2, 'lit'], [1, 'tag'], [1, 'edge']]);
        if (f === 'edge') { // next to the i64 limits: overflows for some operands only
          const base = r.pick(['9223372036854775807', '-9223372036854775808', '9223372036854775806', '-9223372036854775807', '4611686018427387904']);
          const op = r.pick([' + ', ' - ', ' * ']);
          return op === ' * ' ? E(this.par(E(base, base.startsWith('-') ? 6 : 7), 5) + op + this.par(x('long'), 6), 5)
            : E(base + op + this.par(x('long'), 5), 4);
        }
        if (f === 'add' || f === 'sub') return E(this.par(x('long'), 4) + (f === 'add' ? ' + ' : ' - ') + this.par(x('long'), 5), 4);
        if (f === 'mul') return E(this.par(x('long'), 5) + ' * ' + this.par(x('long'), 6), 5);
        if (f === 'neg') return E('-' + this.par(x('long'), 7), 6);
        if (f === 'if') return this.ifExpr('long', d);
        if (f === 'dur') {
          const m = r.pick(['toDays', 'toHours', 'toMinutes', 'toSeconds', 'toMilliseconds']);
          return E(this.par(x('duration'), 7) + '.' + m + '()', 7);
        }
        if (f === 'tag') return this.getTag('long', d);
        return this.lit('long', d);
      }
      case 'string': {
        const f = r.wpick([[3, 'lit'], [1, 'if'], [1, 'tag']]);
        if (f === 'if') return this.ifExpr('string', d);
        if (f === 'tag') return this.getTag('string', d);
        return this.lit('string', d);
      }
      case 'entity': {
        const f = r.wpick([[3, 'lit'], [3, 'var'], [1, 'if'], [1, 'tag']]);
        if (f === 'var') return E(r.pick(['principal', 'resource', 'action']), 7);
        if (f === 'if') return this.ifExpr('entity', d);
        if (f === 'tag') return this.getTag('entity', d);
        return this.lit('entity', d);
      }
      case 'set': {
        if (r.chance(0.15)) return this.ifExpr('set', d);
        const ek = r.wpick([[3, 'entity'], [3, 'long'], [2, 'string'], [1, 'bool'], [1, r.pick(KINDS)]]);
        const n = r.wpick([[1, 0], [3, 1], [3, 2], [2, 3]]);
        const items = [];
        for (let i = 0; i < n; i++) items.push(this.expr(r.chance(0.05) ? r.pick(KINDS) : ek, d - 1).t);
        return E('[' + items.join(', ') + ']', 7);
      }
      case 'record': {
        if (r.chance(0.1)) return this.ifExpr('record', d);
        const names = r.shuffle(IDENT_ATTRS.concat(ODD_ATTRS.slice(0, 4))).slice(0, r.int(4));
        const parts = names.map((nm) => (isIdent(nm) && r.chance(0.7) ? nm : cedarStr(nm)) + ': ' + x(r.pick(KINDS)).t);
        return E('{' + parts.join(', ') + '}', 7);
      }
      case 'decimal': case 'ip': return r.chance(0.15) ? this.ifExpr(kind, d) : this.ext(kind, d);
      case 'datetime': {
        const f = r.wpick([[3, 'lit'], [2, 'offset'], [1, 'toDate'], [1, 'if']]);
        if (f === 'offset') return E(this.par(x('datetime'), 7) + '.offset(' + x('duration').t + ')', 7);
        if (f === 'toDate') return E(this.par(x('datetime'), 7) + '.toDate()', 7);
        if (f === 'if') return this.ifExpr(kind, d);
        return this.ext(kind, d);
      }
      case 'duration': {
        const f = r.wpick([[3, 'lit'], [2, 'since'], [1, 'toTime'], [1, 'if']]);
        if (f === 'since') return E(this.par(x('datetime'), 7) + '.durationSince(' + x('datetime').t + ')', 7);
        if (f === 'toTime') return E(this.par(x('datetime'), 7) + '.toTime()', 7);
        if (f === 'if') return this.ifExpr(kind, d);
        return this.ext(kind, d);
      }
    }
    throw new Error('bad kind ' + kind);
  }

  ifExpr(kind, d) {
    return E(`if ${this.expr('bool', d - 1).t} then ${this.expr(kind, d - 1).t} else ${this.expr(kind, d - 1).t}`, 0);
  }

  getTag(kind, d) {
    const r = this.r, w = this.w;
    const cands = (w.tags || []).filter((t) => t.v.k === kind);
    const name = cands.length && r.chance(0.8) ? r.pick(cands).name : r.pick(['t1', 'color', 'nope']);
    const base = r.chance(0.8) ? E(r.pick(['principal', 'resource']), 7) : this.expr('entity', d - 1);
    return E(this.par(base, 7) + '.getTag(' + cedarStr(name) + ')', 7);
  }

  hasText(base) {
    const r = this.r, w = this.w;
    const known = w.attrs.concat(w.ctx);
    let path;
    if (known.length && r.chance(0.7)) path = r.pick(known).path;
    else path = [r.pick(IDENT_ATTRS.concat(ODD_ATTRS))];
    if (path.length > 1 && path.every(isIdent) && r.chance(0.6)) return base + ' has ' + path.join('.');
    const nm = path[0];
    return base + ' has ' + (isIdent(nm) && r.chance(0.7) ? nm : cedarStr(nm));
  }

  boolExpr(d) {
    const r = this.r, w = this.w;
    const x = (k) => this.expr(k, d - 1);
    const f = r.wpick([[3, 'not'], [5, 'and'], [4, 'or'], [2, 'if'], [5, 'eq'], [4, 'cmp'], [5, 'in'], [2, 'like'],
      [5, 'has'], [3, 'is'], [3, 'contains'], [2, 'containsAll'], [2, 'containsAny'], [1, 'isEmpty'],
      [2, 'hasTag'], [2, 'decCmp'], [2, 'ipPred'], [1, 'guarded'], [1, 'attr']]);
    switch (f) {
      case 'not': return E('!' + this.par(x('bool'), 7), 6);
      case 'and': return E(this.par(x('bool'), 2) + ' && ' + this.par(x('bool'), 3), 2);
      case 'or': return E(this.par(x('bool'), 1) + ' || ' + this.par(x('bool'), 2), 1);
      case 'if': return this.ifExpr('bool', d);
      case 'eq': {
        const k = r.chance(0.85) ? r.pick(KINDS) : null;
        const a = x(k || r.pick(KINDS)), b = x(k || r.pick(KINDS));
        return E(this.par(a, 4) + (r.chance(0.7) ? ' == ' : ' != ') + this.par(b, 4), 3);
      }
      case 'cmp': {
        const k = r.wpick([[6, 'long'], [2, 'datetime'], [2, 'duration'], [1, 'decimal'], [1, 'string']]);
        return E(this.par(x(k), 4) + ' ' + r.pick(['<', '<=', '>', '>=']) + ' ' + this.par(x(k), 4), 3);
      }
      case 'in': {
        const lhs = r.chance(0.7) ? E(r.pick(['principal', 'resource', 'action']), 7) : x('entity');
        const rhs = r.chance(0.3) ? x('set') : r.chance(0.6) ? this.lit('entity', d) : x('entity');
        return E(this.par(lhs, 4) + ' in ' + this.par(rhs, 4), 3);
      }
      case 'like': {
        const pats = ['*', 'a*', '*b', 'a*b', '', 'abc', '*a*', '**', 'hello*', '*world', 'ünï*', 'a\\*b', '*\\**',
          'x\ny', 'b*a', '*\\*', 'tab\t*', 'quote"*', 'back\\*', '日*', '*😀', 'a**b', '*ab*ab*', 'prefix-*-suffix'];
        const pat = r.pick(pats);
        // in a pattern `*` is a wildcard and `\\*` a literal star; everything else is escaped as in
        // strings. pats use "\\*" for a literal star.
        const lit = '"' + pat.split('\\*').map((seg) => cedarStr(seg, true).slice(1, -1)).join('\\*') + '"';
        return E(this.par(x('string'), 4) + ' like ' + lit, 3);
      }
      case 'has': {
        const base = r.wpick([[4, 'principal'], [4, 'resource'], [3, 'context'], [1, null]]);
        if (base) return E(this.hasText(base), 3);
        return E(this.hasText(this.par(x(r.pick(['record', 'entity'])), 4)), 3);
      }
      case 'is': {
        const lhs = r.chance(0.7) ? E(r.pick(['principal', 'resource', 'action']), 7) : x('entity');
        const t = r.chance(0.85) ? r.pick(w.types.concat(w.atypes)) : r.pick(ENTITY_TYPES);
        if (r.chance(0.3)) {
          const rhs = r.chance(0.2) ? x('set') : this.lit('entity', d);
          return E(this.par(lhs, 4) + ' is ' + t + ' in ' + this.par(rhs, 4), 3);
        }
        return E(this.par(lhs, 4) + ' is ' + t, 3);
      }
      case 'contains': {
        const s = x('set');
        return E(this.par(s, 7) + '.contains(' + x(r.pick(['entity', 'long', 'string', r.pick(KINDS)])).t + ')', 7);
      }
      case 'containsAll': case 'containsAny':
        return E(this.par(x('set'), 7) + '.' + f + '(' + x('set').t + ')', 7);
      case 'isEmpty': return E(this.par(x('set'), 7) + '.isEmpty()', 7);
      case 'hasTag': {
        const base = r.chance(0.8) ? E(r.pick(['principal', 'resource']), 7) : x('entity');
        const name = r.chance(0.8) ? cedarStr(r.pick(['t1', 't2', 'color', 'level', 'with space', '', 'nope'])) : x('string').t;
        return E(this.par(base, 7) + '.hasTag(' + name + ')', 7);
      }
      case 'decCmp': {
        const m = r.pick(['lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual']);
        const k = r.chance(0.8) ? 'decimal' : r.pick(['datetime', 'duration', 'long']);
        return E(this.par(x(k), 7) + '.' + m + '(' + x(k).t + ')', 7);
      }
      case 'ipPred': {
        const m = r.pick(['isIpv4', 'isIpv6', 'isLoopback', 'isMulticast', 'isInRange']);
        const recv = this.par(x('ip'), 7);
        return E(recv + '.' + m + '(' + (m === 'isInRange' ? x('ip').t : '') + ')', 7);
      }
      case 'guarded': { // principal has a && principal.a OP ..., the common safe pattern
        const known = w.attrs.filter((a) => a.path.length === 1);
        if (!known.length) return E('true', 7);
        const a = r.pick(known);
        const base = r.pick(['principal', 'resource']);
        const acc = this.accessText(base, a.path);
        let test;
        if (a.k === 'bool') test = acc;
        else if (a.k === 'long') test = acc + ' ' + r.pick(['<', '>=', '==']) + ' ' + this.par(x('long'), 4);
        else test = acc + ' == ' + this.par(x(a.k), 4);
        return E(`${base} has ${isIdent(a.path[0]) ? a.path[0] : cedarStr(a.path[0])} && ${test}`, 2);
      }
      case 'attr': {
        const a = this.attrOf('bool');
        return a || E(r.pick(['true', 'false']), 7);
      }
    }
    throw new Error('bad bool form ' + f);
  }

  // ---- policies ----
  scopeUid(kind) {
    const r = this.r, w = this.w;
    // often a uid some request uses, so that scopes match
    const used = w.req[kind].filter((u) => kind !== 'action' || w.actions.includes(u));
    if (used.length && r.chance(0.5)) return r.pick(used);
    if (kind === 'action') return r.pick(w.actions); // Cedar rejects non-action uids here
    return r.chance(0.9) ? r.pick(w.uids) : r.pick(w.dangling.length ? w.dangling : w.actions);
  }

  scope(v, slot) {
    const r = this.r, w = this.w;
    if (slot) {
      const f = r.pick(['==', 'in', 'is-in']);
      if (f === 'is-in') return `${v} is ${r.pick(w.types)} in ?${v}`;
      return `${v} ${f} ?${v}`;
    }
    const f = r.wpick([[8, 'any'], [3, '=='], [3, 'in'], [2, 'is'], [2, 'is-in']]);
    if (f === 'any') return v;
    if (f === 'is') return `${v} is ${r.chance(0.9) ? r.pick(w.types) : r.pick(ENTITY_TYPES.concat(w.atypes))}`;
    if (f === 'is-in') return `${v} is ${r.pick(w.types)} in ${uidText(this.scopeUid(v))}`;
    return `${v} ${f} ${uidText(this.scopeUid(v))}`;
  }

  actionScope() {
    const r = this.r, w = this.w;
    const f = r.wpick([[7, 'any'], [3, '=='], [2, 'in'], [2, 'list']]);
    if (f === 'any') return 'action';
    if (f === 'list') {
      const n = r.range(0, 3);
      const l = [];
      for (let i = 0; i < n; i++) l.push(uidText(this.scopeUid('action')));
      return `action in [${l.join(', ')}]`;
    }
    return `action ${f} ${uidText(this.scopeUid('action'))}`;
  }

  policy(slots) {
    const r = this.r;
    const eff = r.chance(0.65) ? 'permit' : 'forbid';
    let text = '';
    if (r.chance(0.15)) text += `@id(${cedarStr(r.pick(['x', 'p', 'ünï']))}) `;
    if (r.chance(0.05)) text += '@advice ';
    const ps = slots && slots.p ? this.scope('principal', true) : this.scope('principal', false);
    const rs = slots && slots.r ? this.scope('resource', true) : this.scope('resource', false);
    text += `${eff}(${ps}, ${this.actionScope()}, ${rs})`;
    const nc = r.wpick([[4, 0], [5, 1], [2, 2], [1, 3]]);
    const depth = r.wpick([[3, 1], [4, 2], [3, 3], [2, 4], [1, 6]]);
    for (let i = 0; i < nc; i++) {
      const nl = r.chance(0.1) ? '\n  ' : ' ';
      text += (r.chance(0.75) ? ' when' : ' unless') + nl + '{' + nl + this.expr('bool', depth).t + nl + '}';
    }
    return text + ';';
  }

  // ---- a case ----
  caseOf(id) {
    const r = this.r;
    this.errRate = r.pick([0.0, 0.02, 0.05, 0.1]);
    const entities = this.world();
    const requests = [];
    const nreq = r.range(1, 5);
    for (let i = 0; i < nreq; i++) requests.push(this.request());
    const npol = r.range(1, 6);
    const statics = [];
    for (let i = 0; i < npol; i++) statics.push(this.policy(null));
    const policies = { staticPolicies: statics.join('\n') };
    if (r.chance(0.25)) {
      const nt = r.range(1, 2);
      policies.templates = {};
      policies.templateLinks = [];
      let link = 0;
      for (let t = 0; t < nt; t++) {
        const slots = r.pick([{ p: true }, { r: true }, { p: true, r: true }]);
        policies.templates['t' + t] = this.policy(slots);
        const nl = r.range(0, 2);
        for (let k = 0; k < nl; k++) {
          const values = {};
          if (slots.p) values['?principal'] = this.scopeUid('principal');
          if (slots.r) values['?resource'] = this.scopeUid('resource');
          policies.templateLinks.push({ templateId: 't' + t, newId: 'link' + link++, values });
        }
      }
    }
    // comments and line breaks between policies (outside any string literal)
    if (r.chance(0.2)) policies.staticPolicies = statics.join(r.pick(['\n// a comment\n', '\n\n', ' ', '\r\n\t'])) + r.pick(['', '\n// end', '\n']);
    return { case: id, policies, entities, requests };
  }
}

function main(argv) {
  let seed = '1', count = 100, start = 0;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seed') seed = argv[++i];
    else if (argv[i] === '--count') count = parseInt(argv[++i], 10);
    else if (argv[i] === '--start') start = parseInt(argv[++i], 10);
    else {
      process.stderr.write('usage: node gen.js [--seed S] [--count N] [--start K]\n');
      process.exitCode = 2;
      return;
    }
  }
  const out = [];
  for (let k = start; k < start + count; k++) {
    const rng = new Rng(`${seed}:${k}`);
    strRng = rng;
    const g = new Gen(rng);
    out.push(JSON.stringify(g.caseOf(`${seed}:${k}`)));
    if (out.length >= 256) { process.stdout.write(out.join('\n') + '\n'); out.length = 0; }
  }
  if (out.length) process.stdout.write(out.join('\n') + '\n');
}

main(process.argv.slice(2));
