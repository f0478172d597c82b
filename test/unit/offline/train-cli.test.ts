import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/entries/train';
import { offlineConfig } from '../../../src/model/config';
import { loadModel, type ModelManifest } from '../../../src/model/index';
import { siteModel } from '../../../src/model/manifest';

describe('attnflow-train', () => {
  it('trains on JSON-lines attention logs and writes a manifest + weights a page can load', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'attnflow-train-'));
    const data = path.join(dir, 'logs.jsonl');
    const lines: string[] = [];
    for (let v = 0; v < 60; v++) {
      const events = Array.from({ length: 6 }, (_, j) => ({ itemId: `a${(v + j) % 30}`, attentionMs: 1000 * (j + 1), clicks: j % 2 }));
      lines.push(JSON.stringify(v % 2 ? events : { events }));
    }
    writeFileSync(data, lines.join('\n'));
    const out = path.join(dir, 'model');
    const code = await main([
      '--data',
      data,
      '--out',
      out,
      '--minutes',
      '0.5',
      '--epochs',
      '2',
      '--dim',
      '8',
      '--buckets',
      '2048',
      '--quantization',
      'float16',
    ]);
    expect(code).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8')) as ModelManifest;
    expect(manifest).toMatchObject({ format: 'attnflow-model', version: 1, weights: 'weights.bin', quantization: 'float16' });
    expect(manifest.bytes).toBe(readFileSync(path.join(out, 'weights.bin')).length);
    expect(manifest.training).toMatchObject({ visitors: 60, items: 30 });
    // A page would fetch over HTTP; here the fetch reads the files.
    const fileFetch = async (url: string) => new Response(readFileSync(new URL(url).pathname));
    const site = siteModel(`file://${path.join(out, 'model.json')}`, fileFetch);
    await site.manifest();
    const model = await loadModel({ ...manifest.config, weights: await site.weights() });
    expect([model.config.dim, model.config.idBuckets]).toEqual([8, 2048]);
    const scores = await model.score([{ itemId: 'a1' }, { itemId: 'a2' }], ['a3', 'a4', 'never-seen']);
    expect(scores.length).toBe(3);
    expect([...scores].every(Number.isFinite)).toBe(true);
    model.dispose();
    expect(await main(['--data', data])).toBe(2); // --out missing: usage, exit code 2
  });

  it('sizes the id table at ≥ 4 buckets per item by default (a power of two, at least 1024)', () => {
    expect(offlineConfig(30).idBuckets).toBe(1024);
    expect(offlineConfig(54_542).idBuckets).toBe(262_144);
    expect(offlineConfig(54_542, { idBuckets: 4096 }).idBuckets).toBe(4096);
  });
});
