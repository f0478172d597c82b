#!/usr/bin/env node
// `npm run bench`: runs every benchmark in bench/ whose name ends in .bench.mjs, one after another.
import { readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const only = process.argv.slice(2);
const dir = new URL('./', import.meta.url);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => !only.length || only.some((o) => f.includes(o)))
  .sort();
if (!benches.length) {
  console.log('bench: no benchmarks yet');
}
for (const file of benches) {
  console.log(`\n### ${file}`);
  execFileSync(process.execPath, [new URL(file, dir).pathname], { stdio: 'inherit' });
}
