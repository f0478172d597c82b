/**
 * One driver over two engines, for the cross-engine tests: Firefox ESR through puppeteer-core
 * (WebDriver BiDi) and WebKitGTK's MiniBrowser through webdriverio (WebDriver classic, under Xvfb).
 *
 *   const session = await launch('firefox', { baseURL, dir });
 *   const tab = await session.newTab();
 *   await tab.open('/test/fixtures/smoke.html');
 *   const n = await tab.evaluate((a) => a + 1, 1);   // runs in the page; JSON in, JSON out
 *   await tab.waitFor(() => window.attnflow?.snapshot);
 *   await tab.reload(); await tab.close();
 *   await session.restart();                          // a new browser session on the same profile
 *   await session.close();
 *
 * Every tab collects what the page did wrong: uncaught errors and unhandled rejections, console
 * messages, and resources fetched from anything but 127.0.0.1. They come from
 * test/fixtures/engines/guard.js in the page (on Firefox injected before any script of the page
 * runs; on WebKit, which has no such hook over WebDriver classic, injected once the page has
 * loaded, unless the page includes it itself) and from the protocol where it reports them
 * (Firefox: BiDi console, errors and network events, workers' console included; WebKit over
 * WebDriver classic reports none of them).
 *
 * Every process started here (browsers, WebKitWebDriver and the MiniBrowser it starts, Xvfb) runs
 * in a process group of its own, registered here: `stopAll()` kills them all and waits until they
 * are gone, also when a test or the runner fails (`killAll()` is its synchronous half, for exits).
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const FIREFOX = process.env.ATTNFLOW_FIREFOX || '/usr/bin/firefox-esr';
export const WEBKIT_DRIVER = process.env.ATTNFLOW_WEBKIT_DRIVER || '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = process.env.ATTNFLOW_MINIBROWSER || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
/** The viewport every tab gets (the capture fixtures' pair of 800 px items needs 800 px). */
export const VIEWPORT = { width: 1000, height: 800 };

/** Limits of one driver step (ms): a browser that stops answering fails the step, named, not the run. */
const EVALUATE_MS = 60_000;
const NAVIGATE_MS = 30_000;
const STEP_MS = 20_000;

const describe = (what, fn) => `${what} ${fn.toString().replace(/\s+/g, ' ').slice(0, 100)}`;

const GUARD = readFileSync(new URL('../fixtures/engines/guard.js', import.meta.url), 'utf8');

// ---- processes -------------------------------------------------------------------------------

/** Process groups started here (each child spawned detached, as its group's leader), until gone. */
const groups = new Set();

const alive = (pgid) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGKILLs every process group started here, now (synchronous: also for the `exit` handler). */
export function killAll() {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      groups.delete(pgid); // gone already
    }
  }
}

/**
 * Kills every process group started here and waits until none of their processes is left (a
 * killed WebKit process takes a moment to go); resolves with the groups still there after
 * `timeout` ms, if any.
 */
export async function stopAll(timeout = 10_000) {
  const end = Date.now() + timeout;
  for (;;) {
    killAll();
    for (const pgid of groups) if (!alive(pgid)) groups.delete(pgid);
    if (!groups.size || Date.now() > end) return [...groups];
    await sleep(100);
  }
}

export function track(child) {
  if (child?.pid) groups.add(child.pid);
  return child;
}

function kill(child) {
  if (!child?.pid) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects after `ms` with `what` timed out. */
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts Xvfb on a free display (-displayfd); resolves with the display name and the process. */
async function startXvfb() {
  const child = track(
    spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    }),
  );
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const display = await withTimeout(
    new Promise((resolve, reject) => {
      let out = '';
      child.stdio[3].on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(`:${out.trim()}`);
      });
      child.once('exit', (code) => reject(new Error(`Xvfb exited (${code}): ${err.trim()}`)));
    }),
    10_000,
    'starting Xvfb',
  );
  return { display, child };
}

// ---- the page side ---------------------------------------------------------------------------

/** The expression that runs `fn(...args)` in the page and gives back JSON: `{v}` or `{e}`. */
function pageCall(fn, args) {
  return `(async () => {
    const __fn = (${fn.toString()});
    try { return JSON.stringify({ v: await __fn(...${JSON.stringify(args)}) }); }
    catch (e) { return JSON.stringify({ e: String((e && e.stack) || e) }); }
  })()`;
}

function unwrap(json, fn) {
  const out = JSON.parse(json);
  if ('e' in out) throw new Error(`in the page: ${out.e}\n  while running: ${fn.toString().slice(0, 200)}`);
  return out.v;
}

/**
 * What the guard and the resource timing of the page in a tab say (the guard's lists are emptied
 * as they are read): errors, console messages, and every URL fetched (resource timing: whatever got
 * a response, chunks and workers' scripts included) or asked for by a script (the guard) that is not
 * on 127.0.0.1.
 */
function harvestInPage() {
  const g = window.__engineGuard;
  const offsite = [...performance.getEntriesByType('resource').map((e) => e.name), ...(g ? g.requests.splice(0) : [])].filter((n) => {
    try {
      const u = new URL(n);
      // data: and blob: URLs are read from memory, not fetched.
      return !['data:', 'blob:', 'about:'].includes(u.protocol) && u.hostname !== '127.0.0.1';
    } catch {
      return true;
    }
  });
  return { errors: g ? g.errors.splice(0) : [], console: g ? g.console.splice(0) : [], offsite };
}

/**
 * A tab: what both engines implement. `errors`, `console` and `offsite` accumulate over the tab's
 * pages; `protocolConsole` and `protocolErrors` are what the protocol reported (workers included
 * where it reports them).
 */
class Tab {
  constructor(session) {
    this.session = session;
    this.errors = [];
    this.console = [];
    this.offsite = new Set();
    this.protocolConsole = [];
    this.protocolErrors = [];
    this.closed = false;
  }

  url(path) {
    return new URL(path, this.session.baseURL).href;
  }

  /** Reads the page's guard into this tab's lists (before the page goes away, and on demand). */
  async harvest() {
    if (this.closed) return;
    let got;
    try {
      got = await this.evaluate(harvestInPage);
    } catch {
      return; // about:blank, a page going away
    }
    this.errors.push(...got.errors);
    this.console.push(...got.console);
    for (const o of got.offsite) this.offsite.add(o);
  }

  /** Polls `fn(...args)` in the page every 100 ms until it returns something truthy; resolves with it. */
  async waitFor(fn, args = [], { timeout = 20_000, message } = {}) {
    const end = Date.now() + timeout;
    let last;
    for (;;) {
      try {
        last = await this.evaluate(fn, ...args);
        if (last) return last;
      } catch (error) {
        last = error;
        // A page in the middle of navigating: try again.
      }
      if (Date.now() > end)
        throw new Error(
          `${message ?? 'waitFor'}: still ${last instanceof Error ? last.message : JSON.stringify(last)} after ${timeout} ms (${fn.toString().slice(0, 160)})`,
        );
      await sleep(100);
    }
  }

  /** Everything this tab saw that a page must not do: uncaught errors, offsite resources. */
  problems() {
    return { errors: [...this.errors, ...this.protocolErrors], offsite: [...this.offsite] };
  }
}

// ---- Firefox: puppeteer-core over WebDriver BiDi ---------------------------------------------

class FirefoxTab extends Tab {
  constructor(session, page) {
    super(session);
    this.page = page;
    page.on('console', (m) => this.protocolConsole.push({ type: m.type(), text: m.text() }));
    page.on('pageerror', (e) => this.protocolErrors.push(`${e.name}: ${e.message}`));
    page.on('request', (r) => {
      const u = r.url();
      if (/^(https?|wss?):/.test(u) && new URL(u).hostname !== '127.0.0.1') this.offsite.add(u);
    });
  }

  async setup() {
    await this.page.setViewport(VIEWPORT);
    await this.page.evaluateOnNewDocument(GUARD);
  }

  async activate() {
    if (this.session.current !== this) {
      await withTimeout(this.page.bringToFront(), STEP_MS, 'bringing a tab to the front');
      this.session.current = this;
    }
  }

  async evaluate(fn, ...args) {
    await this.activate();
    return unwrap(await withTimeout(this.page.evaluate(pageCall(fn, args)), EVALUATE_MS, describe('evaluating', fn)), fn);
  }

  async open(path) {
    await this.harvest();
    await this.activate();
    await withTimeout(this.page.goto(this.url(path), { waitUntil: 'load', timeout: NAVIGATE_MS }), NAVIGATE_MS + 5000, `opening ${path}`);
  }

  async reload() {
    await this.harvest();
    await this.activate();
    await withTimeout(this.page.reload({ waitUntil: 'load', timeout: NAVIGATE_MS }), NAVIGATE_MS + 5000, 'reloading');
  }

  async close() {
    await this.harvest();
    this.closed = true;
    if (this.session.current === this) this.session.current = undefined;
    await withTimeout(this.page.close(), STEP_MS, 'closing a tab');
  }
}

class FirefoxSession {
  constructor({ baseURL, dir }) {
    this.name = 'firefox';
    this.baseURL = baseURL;
    this.profile = join(dir, 'firefox-profile');
    mkdirSync(this.profile, { recursive: true });
    this.features = { persistentProfile: true };
  }

  async start() {
    const { default: puppeteer } = await import('puppeteer-core');
    this.browser = await withTimeout(
      puppeteer.launch({
        browser: 'firefox',
        executablePath: FIREFOX,
        headless: true,
        userDataDir: this.profile,
        protocolTimeout: 120_000,
        extraPrefsFirefox: {
          // Nothing of the browser's own to the network: the machine reaches none of it anyway.
          'network.dns.disableIPv6': true,
          'browser.safebrowsing.malware.enabled': false,
          'browser.safebrowsing.phishing.enabled': false,
          'app.update.enabled': false,
          'datareporting.policy.dataSubmissionEnabled': false,
        },
      }),
      60_000,
      'launching Firefox',
    );
    track(this.browser.process());
    this.version = await this.browser.version();
    this.current = undefined;
  }

  async newTab() {
    const tab = new FirefoxTab(this, await withTimeout(this.browser.newPage(), STEP_MS, 'opening a tab'));
    await tab.setup();
    await tab.activate();
    return tab;
  }

  async stop() {
    if (!this.browser) return;
    const child = this.browser.process();
    await withTimeout(this.browser.close(), 15_000, 'closing Firefox').catch(() => {});
    kill(child);
    this.browser = undefined;
  }

  /** A new browser on the same profile (what a visitor who quits and comes back has). */
  async restart() {
    await this.stop();
    await this.start();
  }

  async close() {
    await this.stop();
  }
}

// ---- WebKitGTK: webdriverio over WebDriver classic, MiniBrowser under Xvfb --------------------

class WebKitTab extends Tab {
  constructor(session, handle) {
    super(session);
    this.handle = handle;
  }

  get b() {
    return this.session.b;
  }

  async activate() {
    if (this.session.current !== this) {
      await withTimeout(this.b.switchToWindow(this.handle), STEP_MS, 'switching tabs');
      this.session.current = this;
    }
  }

  async evaluate(fn, ...args) {
    await this.activate();
    const json = await withTimeout(
      this.b.executeAsync(`const done = arguments[arguments.length - 1]; ${pageCall(fn, args)}.then(done);`),
      EVALUATE_MS,
      describe('evaluating', fn),
    );
    return unwrap(json, fn);
  }

  /** No script runs before the page's own over WebDriver classic: the guard comes once it has loaded. */
  async afterLoad() {
    await this.evaluate(new Function(GUARD));
  }

  async open(path) {
    await this.harvest();
    await this.activate();
    await withTimeout(this.b.navigateTo(this.url(path)), NAVIGATE_MS + 5000, `opening ${path}`);
    await this.afterLoad();
  }

  async reload() {
    await this.harvest();
    await this.activate();
    await withTimeout(this.b.refresh(), NAVIGATE_MS + 5000, 'reloading');
    await this.afterLoad();
  }

  async close() {
    await this.harvest();
    await this.activate();
    this.closed = true;
    await withTimeout(this.b.closeWindow(), STEP_MS, 'closing a tab');
    this.session.current = undefined;
    await this.b.switchToWindow(this.session.home);
    this.session.current = 'home';
  }
}

class WebKitSession {
  constructor({ baseURL, dir }) {
    this.name = 'webkit';
    this.baseURL = baseURL;
    this.dir = join(dir, 'webkit');
    mkdirSync(this.dir, { recursive: true });
    // An automation session of MiniBrowser is ephemeral: a new session starts with empty storage.
    this.features = { persistentProfile: false };
  }

  async start() {
    if (!this.xvfb) this.xvfb = await startXvfb();
    if (!this.driver) {
      this.port = await freePort();
      const env = {
        ...process.env,
        DISPLAY: this.xvfb.display,
        // MiniBrowser's caches and data under the run's folder, not the home folder.
        XDG_CACHE_HOME: join(this.dir, 'cache'),
        XDG_DATA_HOME: join(this.dir, 'data'),
        XDG_CONFIG_HOME: join(this.dir, 'config'),
        // No accessibility bus or dconf on a bare machine: quiet the warnings about them.
        NO_AT_BRIDGE: '1',
        GSETTINGS_BACKEND: 'memory',
      };
      this.driver = track(spawn(WEBKIT_DRIVER, [`--port=${this.port}`, '--host=127.0.0.1'], { detached: true, env, stdio: 'ignore' }));
      await this.waitForDriver();
    }
    const { remote } = await import('webdriverio');
    this.b = await withTimeout(
      remote({
        hostname: '127.0.0.1',
        port: this.port,
        path: '/',
        logLevel: 'silent',
        connectionRetryCount: 0,
        connectionRetryTimeout: 120_000,
        capabilities: {
          'wdio:enforceWebDriverClassic': true,
          browserName: 'MiniBrowser',
          'webkitgtk:browserOptions': {
            binary: this.wrapper(),
            args: ['--automation'],
          },
        },
      }),
      60_000,
      'starting a WebKit session',
    );
    this.version = `MiniBrowser (WebKitGTK ${this.b.capabilities.browserVersion})`;
    await this.b.setTimeout({ script: EVALUATE_MS, pageLoad: NAVIGATE_MS });
    this.home = await this.b.getWindowHandle();
    this.current = 'home';
  }

  /**
   * The browser binary the driver starts: MiniBrowser with its output (GTK and GStreamer warnings
   * of a bare machine) appended to a log file of the run. (It does not carry the console:
   * MiniBrowser's `--enable-write-console-messages-to-stdout` is not applied to automation views.)
   */
  wrapper() {
    if (this.script) return this.script;
    this.log = join(this.dir, 'minibrowser.log');
    this.script = join(this.dir, 'minibrowser.sh');
    writeFileSync(this.script, `#!/bin/sh\nexec ${JSON.stringify(MINIBROWSER)} "$@" >>${JSON.stringify(this.log)} 2>&1\n`);
    chmodSync(this.script, 0o755);
    return this.script;
  }

  async waitForDriver() {
    const end = Date.now() + 15_000;
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${this.port}/status`);
        if (res.ok) return;
      } catch {
        // Not up yet.
      }
      if (Date.now() > end) throw new Error('WebKitWebDriver did not start');
      await sleep(100);
    }
  }

  async newTab() {
    const { handle } = await withTimeout(this.b.createWindow('window'), STEP_MS, 'opening a tab');
    const tab = new WebKitTab(this, handle);
    await tab.activate();
    // The window's size such that the viewport is VIEWPORT (MiniBrowser has a toolbar); the window
    // manager-less X server applies a resize a moment later, so read until it has.
    let size = [VIEWPORT.width, VIEWPORT.height];
    let inner;
    for (let i = 0; i < 20; i++) {
      if (i % 5 === 0) await withTimeout(this.b.setWindowSize(...size), STEP_MS, 'sizing a window');
      await sleep(50);
      inner = await withTimeout(this.b.execute('return [innerWidth, innerHeight]'), STEP_MS, 'reading the viewport');
      if (inner[0] === VIEWPORT.width && inner[1] === VIEWPORT.height) return tab;
      // Once the window has its first size, the toolbar's height is known.
      if (i % 5 === 4) size = [size[0] + VIEWPORT.width - inner[0], size[1] + VIEWPORT.height - inner[1]];
    }
    throw new Error(`the viewport is ${inner.join('×')}, not ${VIEWPORT.width}×${VIEWPORT.height}`);
  }

  async stop() {
    if (!this.b) return;
    await withTimeout(this.b.deleteSession(), 15_000, 'closing the WebKit session').catch(() => {});
    this.b = undefined;
  }

  /** A new session (a new MiniBrowser) through the same driver. */
  async restart() {
    await this.stop();
    await this.start();
  }

  async close() {
    await this.stop();
    kill(this.driver);
    kill(this.xvfb?.child);
    this.driver = undefined;
    this.xvfb = undefined;
  }
}

/** Starts `engine` ('firefox' or 'webkit'); `dir` is a folder of the run for its profile and data. */
export async function launch(engine, { baseURL, dir }) {
  const session =
    engine === 'firefox' ? new FirefoxSession({ baseURL, dir }) : engine === 'webkit' ? new WebKitSession({ baseURL, dir }) : undefined;
  if (!session) throw new Error(`unknown engine ${engine}`);
  try {
    await session.start();
  } catch (error) {
    await session.close().catch(() => {});
    throw error;
  }
  return session;
}

export const ENGINES = ['firefox', 'webkit'];
