#!/usr/bin/env node
// Browser tests run on Debian's Chromium (Playwright's own browser download is not used).
// Installs it with apt when it is missing, so a fresh machine needs nothing by hand.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';

const BIN = process.env.ATTNFLOW_CHROMIUM || '/usr/bin/chromium';
if (existsSync(BIN)) process.exit(0);

console.log(`attnflow: ${BIN} is missing; installing Debian's chromium with apt-get…`);
const sudo = process.getuid && process.getuid() !== 0 ? 'sudo ' : '';
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
try {
  execSync(`${sudo}apt-get update -qq`, { stdio: 'inherit', env });
  execSync(`${sudo}apt-get install -y -qq chromium`, { stdio: 'inherit', env });
} catch (error) {
  console.error(`attnflow: could not install chromium (${error.message}). Install it with: apt-get install -y chromium`);
  process.exit(1);
}
if (!existsSync(BIN)) {
  console.error(`attnflow: chromium installed but ${BIN} is still missing`);
  process.exit(1);
}
