/**
 * Helpers of the collector's tests: a fresh PGlite folder per test (copied from a template made
 * once, initdb being slow), a catalogue, valid reports, requests, and the collector as a child
 * process (`node --import tsx src/entries/collect.ts`) that a test can kill.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Catalogue } from '../../../src/collect/catalogue';
import { answers, questionsOf, trueAnswer } from '../../../src/report/questions';
import { rrPerturb } from '../../../src/report/rr';
import type { PeriodSummary, PrivateReport } from '../../../src/report/types';
import { utcDay } from '../../../src/report/values';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const CATALOGUE: Catalogue = {
  items: [
    { id: 'home-hero', topics: ['news'] },
    { id: 'match-report', topics: ['sport', 'news'] },
    { id: 'recipe-soup', topics: ['food'] },
  ],
  containers: ['for-you'],
};

/** The questions the collector of `CATALOGUE` serves and accepts. */
export const QUESTIONS: readonly string[] = questionsOf(CATALOGUE);

/** The period a report of `makeReport` answers from: two items seen, one read, a personalized view. */
export const SUMMARY: PeriodSummary = {
  items: [
    { itemId: 'home-hero', views: 2, viewable: 1, attended: 1, skipped: 0, clicks: 1, attentionMs: 14_000 },
    { itemId: 'recipe-soup', views: 1, viewable: 1, attended: 0, skipped: 1, clicks: 0, attentionMs: 300 },
  ],
  depths: [0.4, 0.8, 1],
  containers: [{ container: 'for-you', arm: 'p', attentionMs: 9000 }],
};

/** A temporary folder removed by `cleanup()`. */
export function tempDir(prefix = 'attnflow-collect-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes `catalogue` to a file in `dir` and returns its path. */
export function writeCatalogue(dir: string, catalogue: Catalogue = CATALOGUE): string {
  const file = path.join(dir, 'catalogue.json');
  writeFileSync(file, JSON.stringify(catalogue));
  return file;
}

/**
 * A fresh collector data folder (`--data`) whose database is already initialised: a copy of a
 * template kept in the temp folder per PGlite version, so that only the first run pays for initdb.
 */
export async function pgliteDataDir(): Promise<string> {
  const version = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')).version as string;
  const template = path.join(os.tmpdir(), `attnflow-collect-pglite-${version}`);
  if (!existsSync(path.join(template, 'PG_VERSION'))) {
    const building = mkdtempSync(path.join(os.tmpdir(), 'attnflow-collect-pglite-building-'));
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create({ dataDir: building });
    await db.close();
    try {
      renameSync(building, template);
    } catch {
      // Another test file made it meanwhile.
      rmSync(building, { recursive: true, force: true });
    }
  }
  const dir = tempDir();
  mkdirSync(dir, { recursive: true });
  cpSync(template, path.join(dir, 'pgdata'), { recursive: true });
  return dir;
}

/**
 * A report with a fresh id, valid today: a question of `QUESTIONS` drawn from `rand`, answered from
 * `SUMMARY` and randomized at ε = 2 as a device does; `overrides` replace fields (or add unknown ones).
 */
export function makeReport(
  overrides: Record<string, unknown> = {},
  rand: () => number = Math.random,
): PrivateReport & Record<string, unknown> {
  const epsilon = 2;
  const q = QUESTIONS[Math.floor(rand() * QUESTIONS.length)]!;
  return {
    format: 'attnflow-report',
    version: 2,
    day: utcDay(Date.now()),
    epsilon,
    q,
    y: rrPerturb(trueAnswer(SUMMARY, q, rand), answers(q), epsilon, rand),
    id: randomBytes(16).toString('base64url'),
    ...overrides,
  };
}

/** POSTs `body` (JSON-encoded unless a string) to `url`/report. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${url}/report`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/** GETs `url`/api/estimates?days=`days`. */
export async function estimates(url: string, days = 7): Promise<any> {
  const res = await fetch(`${url}/api/estimates?days=${days}`);
  if (res.status !== 200) throw new Error(`GET /api/estimates: ${res.status} ${await res.text()}`);
  return res.json();
}

/** A collector running as a child process. */
export interface ChildCollector {
  url: string;
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process ended. */
  exited: Promise<number | string>;
  /** Everything it wrote so far. */
  output(): string;
}

/** Children still running: `killChildren()` ends them, so that a failed test leaves no collector behind. */
const children = new Set<ChildProcess>();

/** Kills (SIGKILL) every collector child still running. */
export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}

/** Starts `attnflow-collect` from the sources with `args` (`--port 0` added) and waits until it listens. */
export function spawnCollector(args: string[]): Promise<ChildCollector> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/entries/collect.ts', '--port', '0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  children.add(child);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(signal ?? code ?? -1);
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the collector did not start:\n${out}`));
    }, 30_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1]!, child, exited, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the collector exited (${code}) before listening:\n${out}`));
    });
  });
}
