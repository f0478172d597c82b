/**
 * Offline evaluation of the attention model (issue 5).
 *
 *   npm run eval -- --data FILE        SASRec protocol: baselines, then the model (last line)
 *   npm run eval -- --ebnerd DIR       EB-NeRD sample: dwell-weighted vs unweighted history
 *   npm run eval -- --federated --data FILE   the site model trained federated, with and without DP
 *
 * Progress goes to stderr, results to stdout.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runBeauty } from './eval/beauty';
import { runEbnerd } from './eval/ebnerd';
import { runFederated } from './eval/federated';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    ebnerd: { type: 'string' },
    seed: { type: 'string', default: '1' },
    budget: { type: 'string' }, // total wall-clock budget, seconds
    backend: { type: 'string', default: 'wasm' },
    workers: { type: 'string' },
    models: { type: 'string' },
    dim: { type: 'string' },
    federated: { type: 'boolean', default: false },
    minutes: { type: 'string', default: '25' },
    settings: { type: 'string', default: 'none,8,4,1' }, // federated runs: none (no noise) or the ε of central DP
    'no-central': { type: 'boolean', default: false },
    job: { type: 'string' }, // JSON overrides of the federated run's settings
  },
});

const seed = Number(values.seed);
if (values.federated && values.data) {
  await runFederated(readFileSync(values.data, 'utf8'), {
    file: values.data,
    seed,
    minutes: Number(values.minutes),
    epsilons: (values.settings ?? '')
      .split(',')
      .filter(Boolean)
      .map((x) => (x === 'none' ? undefined : Number(x))),
    noCentral: values['no-central'] ?? false,
    job: values.job ? JSON.parse(values.job) : {},
  });
} else if (values.data) {
  const text = readFileSync(values.data, 'utf8');
  await runBeauty(text, {
    file: values.data,
    seed,
    budgetS: values.budget ? Number(values.budget) : 19 * 60,
    backend: values.backend as 'wasm' | 'cpu',
    workers: values.workers ? Number(values.workers) : 2,
    models: values.models ? Number(values.models) : 2,
    dim: values.dim ? Number(values.dim) : undefined,
  });
} else if (values.ebnerd) {
  await runEbnerd(values.ebnerd, { seed, backend: values.backend as 'wasm' | 'cpu' });
} else {
  process.stderr.write(
    'usage: npm run eval -- --data FILE | --federated --data FILE [--minutes N] [--settings none,8,4,1] | --ebnerd DIR [--seed N] [--budget SECONDS]\n',
  );
  process.exit(2);
}
