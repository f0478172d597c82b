import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../../scripts/demo.mjs', import.meta.url));
const PORT = 4391;

/** Runs `npm run demo`'s server script until it prints its URL; returns what it printed, once it has stopped (its port free again). */
async function demoUrl(): Promise<string> {
  const child = spawn(process.execPath, [DEMO], { env: { ...process.env, ATTNFLOW_DEMO_PORT: String(PORT) } });
  let out = '';
  try {
    return await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('(Ctrl+C to stop)')) resolve(out);
      });
      child.stderr.on('data', (d: Buffer) => (out += d));
      child.on('exit', (code) => reject(new Error(`demo exited with ${code}: ${out}`)));
    });
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
});
