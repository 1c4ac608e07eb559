#!/usr/bin/env node
// oracle_batch.js: runs the unmodified cedar-oracle (../shared/tools/cedar-oracle/oracle.js,
// installed with `npm ci` in a folder outside the repository) on every case of a JSON-lines file,
// in one Node process: each case is written to a scratch file and oracle.js is re-loaded with that
// file as its argument, its output captured. Loading the WebAssembly engine once keeps 20,000 cases
// to a minute or two instead of a process start per case.
//
// usage: node oracle_batch.js ORACLE_DIR CASES.jsonl > ORACLE.jsonl
// Output: one line per case, {"case": id, "out": <oracle.js output>, "rc": <its exit code>}.
'use strict';
const fs = require('fs');
const path = require('path');
const os = require('os');
const readline = require('readline');

async function main() {
  const [dir, casesFile] = process.argv.slice(2);
  if (!dir || !casesFile) {
    process.stderr.write('usage: node oracle_batch.js ORACLE_DIR CASES.jsonl\n');
    process.exit(2);
  }
  const oracle = path.resolve(dir, 'oracle.js');
  const scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cedar-diff-'));
  const scratch = path.join(scratchDir, 'case.json');
  const realWrite = process.stdout.write.bind(process.stdout);
  const results = [];
  const flush = () => { if (results.length) { realWrite(results.join('\n') + '\n'); results.length = 0; } };
  const rl = readline.createInterface({ input: fs.createReadStream(casesFile), crlfDelay: Infinity });
  try {
    for await (const line of rl) {
      if (!line.trim()) continue;
      const id = JSON.parse(line).case;
      fs.writeFileSync(scratch, line);
      let captured = '';
      process.stdout.write = (s) => { captured += s; return true; };
      process.argv = [process.argv[0], oracle, scratch];
      process.exitCode = 0;
      try {
        delete require.cache[oracle];
        require(oracle);
      } finally {
        process.stdout.write = realWrite;
      }
      const rc = process.exitCode || 0;
      process.exitCode = 0;
      let out;
      try { out = JSON.parse(captured); } catch (e) { out = { ok: false, oracleError: true, failure: [{ message: 'unreadable oracle output: ' + captured }] }; }
      results.push(JSON.stringify({ case: id, out, rc }));
      if (results.length >= 256) flush();
    }
    flush();
  } finally {
    fs.rmSync(scratchDir, { recursive: true, force: true });
  }
}

main().catch((e) => { process.stderr.write('oracle_batch: ' + (e && e.stack || e) + '\n'); process.exit(3); });
