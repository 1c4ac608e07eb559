#!/usr/bin/env node
// compare.js: compares the oracle's answers (oracle_batch.js) with the engine's (cedar_diff) for
// the cases gen.js wrote, request by request: decision, set of determining policies, set of
// erroring policies. A case passes when all its requests agree.
//
// usage: node compare.js CASES.jsonl ORACLE.jsonl OURS.jsonl [--show N] [--save FILE]
// Prints each mismatching case (up to --show, default 10) with its policies, entities and
// requests so that it can be reproduced, a mix of outcomes, and a last line "N passed, M failed".
// Counted apart (neither passed nor failed): cases the oracle marks inexact (integers beyond
// +/-2^53), cases the oracle could not run (oracleError), and cases that both sides reject as
// input (e.g. a hierarchy cycle). A case the oracle rejects and the engine accepts, or the reverse,
// is a mismatch. Exit status 0 only when no case failed.
'use strict';
const fs = require('fs');

const lines = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

function main(argv) {
  const [casesF, oracleF, oursF] = argv;
  let show = 10, save = null;
  for (let i = 3; i < argv.length; i++) {
    if (argv[i] === '--show') show = parseInt(argv[++i], 10);
    else if (argv[i] === '--save') save = argv[++i];
  }
  const cases = lines(casesF);
  const oracle = new Map(lines(oracleF).map((o) => [o.case, o]));
  const ours = new Map();
  for (const o of lines(oursF)) {
    if (!ours.has(o.case)) ours.set(o.case, []);
    ours.get(o.case)[o.req] = o;
  }
  const mix = { requests: 0, allow: 0, denyByForbid: 0, denyDefault: 0, withErrors: 0 };
  const counts = { passed: 0, failed: 0, inexact: 0, oracleError: 0, bothRejected: 0 };
  const failures = [];
  for (const c of cases) {
    const o = oracle.get(c.case);
    const mine = ours.get(c.case) || [];
    const outs = o ? (Array.isArray(o.out) ? o.out : [o.out]) : [];
    if (!o || outs.some((x) => x.oracleError)) { counts.oracleError++; continue; }
    if (outs.some((x) => x.inexact)) { counts.inexact++; continue; }
    const problems = [];
    let rejected = 0;
    c.requests.forEach((req, i) => {
      const want = outs.length === 1 && !Array.isArray(o.out) ? outs[0] : outs[i];
      const got = mine[i];
      if (!got) { problems.push({ req: i, why: 'no answer from the engine', want }); return; }
      if (!want.ok || got.failure) {
        if (!want.ok && got.failure) { rejected++; return; }
        problems.push({ req: i, why: want.ok ? 'engine rejected the input' : 'oracle rejected the input', want, got });
        return;
      }
      mix.requests++;
      if (want.decision === 'allow') mix.allow++;
      else if (want.reason.length) mix.denyByForbid++;
      else mix.denyDefault++;
      if (want.errors.length) mix.withErrors++;
      const why = [];
      if (want.decision !== got.decision) why.push('decision');
      if (JSON.stringify(want.reason) !== JSON.stringify(got.reason)) why.push('reason');
      const werr = want.errors.map((e) => e.policyId).sort();
      if (JSON.stringify(werr) !== JSON.stringify(got.errors)) why.push('errors');
      if (why.length) problems.push({ req: i, why: why.join('+'), want, got });
    });
    if (problems.length) {
      counts.failed++;
      failures.push({ c, problems });
    } else if (rejected === c.requests.length && rejected > 0) counts.bothRejected++;
    else counts.passed++;
  }
  for (const f of failures.slice(0, show)) printFailure(f);
  if (failures.length > show) console.log(`... and ${failures.length - show} more failing cases`);
  if (save && failures.length) {
    fs.writeFileSync(save, failures.map((f) => JSON.stringify(f)).join('\n') + '\n');
    console.log(`all failing cases with both answers: ${save}`);
  }
  const pct = (n) => (mix.requests ? (100 * n / mix.requests).toFixed(1) + '%' : '-');
  console.log(`outcome mix (oracle, ${mix.requests} requests): allow ${pct(mix.allow)}, ` +
    `deny by forbid ${pct(mix.denyByForbid)}, deny by default ${pct(mix.denyDefault)}, ` +
    `with policy errors ${pct(mix.withErrors)}`);
  console.log(`set apart: ${counts.inexact} inexact, ${counts.oracleError} oracle errors, ` +
    `${counts.bothRejected} rejected as input by both`);
  console.log(`${counts.passed} passed, ${counts.failed} failed`);
  process.exitCode = counts.failed ? 1 : 0;
}

function printFailure({ c, problems }) {
  const p = c.policies;
  console.log(`==== MISMATCH case ${c.case} (regenerate: node tests/differential/gen.js --seed ${c.case.split(':')[0]} --start ${c.case.split(':')[1]} --count 1)`);
  console.log('-- policies (ids policy0.. in order):');
  console.log(p.staticPolicies);
  for (const [id, t] of Object.entries(p.templates || {})) console.log(`-- template ${id}: ${t}`);
  for (const l of p.templateLinks || []) console.log(`-- link ${l.newId} = ${l.templateId} ${JSON.stringify(l.values)}`);
  console.log('-- entities: ' + JSON.stringify(c.entities));
  for (const pr of problems) {
    const rq = c.requests[pr.req];
    console.log(`-- request ${pr.req} (${pr.why}): ${JSON.stringify(rq)}`);
    const w = pr.want || {};
    console.log('   cedar:  ' + (w.ok
      ? JSON.stringify({ decision: w.decision, reason: w.reason, errors: w.errors })
      : JSON.stringify(w.failure)));
    const g = pr.got || {};
    console.log('   engine: ' + (g.failure ? JSON.stringify(g.failure)
      : JSON.stringify({ decision: g.decision, reason: g.reason, errors: g.errors, messages: g.messages })));
  }
}

main(process.argv.slice(2));
