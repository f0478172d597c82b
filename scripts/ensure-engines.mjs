#!/usr/bin/env node
// The cross-engine browser tests (test/engines/) run on Debian's Firefox ESR and WebKitGTK, under
// Xvfb for WebKit. Installs what is missing with apt, so a fresh machine needs nothing by hand.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';

/** Debian package → a file it installs, checked to tell whether it is there. */
const PACKAGES = {
  'firefox-esr': process.env.ATTNFLOW_FIREFOX || '/usr/bin/firefox-esr',
  'webkit2gtk-driver': '/usr/bin/WebKitWebDriver',
  xvfb: '/usr/bin/Xvfb',
};

const missing = Object.entries(PACKAGES)
  .filter(([, file]) => !existsSync(file))
  .map(([name]) => name);
if (!missing.length) process.exit(0);

console.log(`attnflow: installing ${missing.join(', ')} with apt-get for the cross-engine tests…`);
const sudo = process.getuid && process.getuid() !== 0 ? 'sudo ' : '';
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
try {
  execSync(`${sudo}apt-get update -qq`, { stdio: 'inherit', env });
  execSync(`${sudo}apt-get install -y -qq --no-install-recommends ${missing.join(' ')}`, { stdio: 'inherit', env });
} catch (error) {
  console.error(
    `attnflow: could not install ${missing.join(', ')} (${error.message}). Install them with: apt-get install -y ${missing.join(' ')}`,
  );
  process.exit(1);
}
const still = Object.entries(PACKAGES).filter(([, file]) => !existsSync(file));
if (still.length) {
  console.error(`attnflow: installed, but still missing: ${still.map(([name, file]) => `${file} (${name})`).join(', ')}`);
  process.exit(1);
}
