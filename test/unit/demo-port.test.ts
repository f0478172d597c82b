import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { questionsOf } from '../../src/report/questions';

const DEMO = fileURLToPath(new URL('../../scripts/demo.mjs', import.meta.url));
const PORT = 4391;
const CATALOGUE = fileURLToPath(new URL('../../examples/catalogue.json', import.meta.url));

/** Runs `npm run demo`'s server script until it prints its URL; returns what it printed, once it has stopped (its port free again). */
async function demoUrl(
  args: string[] = [],
  env: Record<string, string> = {},
  whileRunning?: (out: string) => Promise<void>,
): Promise<string> {
  const child = spawn(process.execPath, [DEMO, ...args], { env: { ...process.env, ATTNFLOW_DEMO_PORT: String(PORT), ...env } });
  let out = '';
  try {
    const printed = await new Promise<string>((resolve, reject) => {
      const done = args.includes('--collect') ? 'fills the dashboard' : '(Ctrl+C to stop)';
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        if (out.includes(done)) resolve(out);
      });
      child.stderr.on('data', (d: Buffer) => (out += d));
      child.on('exit', (code) => reject(new Error(`demo exited with ${code}: ${out}`)));
    });
    await whileRunning?.(printed);
    return printed;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    }
  }
}

describe('npm run demo', () => {
  let busy: Server | undefined;
  afterEach(async () => {
    if (busy) await new Promise((r) => busy!.close(r));
    busy = undefined;
  });

  it('serves on its port and prints the URL', async () => {
    expect(await demoUrl()).toContain(`http://127.0.0.1:${PORT}/examples/`);
  });

  it('moves to the next free port when its own is taken, and says so', async () => {
    busy = createServer().listen(PORT, '127.0.0.1');
    await once(busy, 'listening');
    const out = await demoUrl();
    expect(out).toContain(`http://127.0.0.1:${PORT + 1}/examples/`);
    expect(out).toContain(`port ${PORT} is in use`);
  });

  it('with --collect, starts attnflow-collect beside it and the demo pages report to it', async () => {
    const data = mkdtempSync(path.join(os.tmpdir(), 'attnflow-demo-collect-'));
    try {
      await demoUrl(['--collect'], { ATTNFLOW_DEMO_COLLECT_DATA: data }, async (out) => {
        const collector = /its dashboard: +(http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1];
        expect(collector, out).toBeDefined();
        const page = await (await fetch(`http://127.0.0.1:${PORT}/examples/`)).text();
        expect(page).toContain(`data-collect-url="${collector}/report"`);
        const questions = (await (await fetch(`${collector}/questions`)).json()) as { questions: string[] };
        const catalogue = JSON.parse(readFileSync(CATALOGUE, 'utf8'));
        expect(questions.questions).toEqual(questionsOf(catalogue));
        expect((await fetch(`${collector}/`)).status).toBe(200);
      });
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  }, 30_000);

  it("the demo's catalogue lists every item of the front page", () => {
    const page = readFileSync(fileURLToPath(new URL('../../examples/index.html', import.meta.url)), 'utf8');
    const ids = [...page.matchAll(/data-attn-item="([^"]+)"/g)].map((m) => m[1]);
    const catalogue = JSON.parse(readFileSync(CATALOGUE, 'utf8')) as { items: { id: string }[]; containers: string[] };
    expect(catalogue.items.map((i) => i.id).sort()).toEqual([...new Set(ids)].sort());
    expect(catalogue.containers).toEqual([...page.matchAll(/data-attn-rank="([^"]+)"/g)].map((m) => m[1]));
  });
});
