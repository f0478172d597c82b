#!/usr/bin/env node
// The collector's tests (test/unit/collect/) run a throwaway PostgreSQL cluster beside PGlite.
// Installs Debian's PostgreSQL with apt when `initdb` is missing, so a fresh machine needs nothing by hand.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** Debian keeps the server binaries out of PATH, in /usr/lib/postgresql/<major>/bin. */
function findInitdb() {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'initdb'))) return path.join(dir, 'initdb');
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of majors) {
    const file = path.join(root, v, 'bin', 'initdb');
    if (existsSync(file)) return file;
  }
  return undefined;
}

if (findInitdb()) process.exit(0);

console.log('attnflow: installing postgresql with apt-get for the collector tests…');
const sudo = process.getuid && process.getuid() !== 0 ? 'sudo ' : '';
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
try {
  execSync(`${sudo}apt-get update -qq`, { stdio: 'inherit', env });
  execSync(`${sudo}apt-get install -y -qq --no-install-recommends postgresql`, { stdio: 'inherit', env });
} catch (error) {
  console.error(`attnflow: could not install postgresql (${error.message}). Install it with: apt-get install -y postgresql`);
  process.exit(1);
}
if (!findInitdb()) {
  console.error('attnflow: installed postgresql, but initdb is still missing (looked in PATH and /usr/lib/postgresql/*/bin)');
  process.exit(1);
}
