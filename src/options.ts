import { AttnflowConfigError, describe } from './lib/errors';
import type { AttentionOptions } from './types';

/** Options with every default filled in. */
export interface ResolvedOptions {
  idleAfterMs: number;
  requireConsent: boolean;
  debug: boolean;
  onError: ((error: unknown) => void) | undefined;
  root: ParentNode | undefined;
  retentionDays: number;
  maxItemRecords: number;
  respectGpc: boolean;
  respectDoNotTrack: boolean;
  explore: number;
  modelUrl: string | undefined;
  collectUrl: string | undefined;
  collectEpsilon: number;
  collectPeriodDays: number;
  holdout: number;
}

const bool = (v: unknown) => typeof v === 'boolean';
const num = (lo: number, hi: number, open?: boolean) => (v: unknown) => typeof v === 'number' && (open ? v > lo : v >= lo) && v <= hi;
const BOOL = 'a boolean';
const A_URL = 'a URL (string)';
const url = (v: unknown) => v === undefined || (typeof v === 'string' && !!v.trim());

/** Every option: its default, its check, and what the check expects (for the error). */
const RULES: { [K in keyof ResolvedOptions]: [ResolvedOptions[K], (v: any) => boolean, string] } = {
  idleAfterMs: [5000, num(100, Number.MAX_VALUE), 'a number of ms ≥ 100'],
  requireConsent: [false, bool, BOOL],
  debug: [false, bool, BOOL],
  onError: [undefined, (v) => v === undefined || typeof v === 'function', 'a function'],
  root: [undefined, (v) => v === undefined || typeof v?.querySelectorAll === 'function', 'a Document or Element'],
  retentionDays: [90, num(0, 3650, true), 'a number of days > 0 and ≤ 3650'],
  maxItemRecords: [50_000, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  respectGpc: [true, bool, BOOL],
  respectDoNotTrack: [true, bool, BOOL],
  explore: [0.1, num(0, 1), 'a rate in 0..1'],
  modelUrl: [undefined, url, A_URL],
  collectUrl: [undefined, url, A_URL],
  collectEpsilon: [1, num(0, 10, true), 'a number > 0 and ≤ 10'],
  collectPeriodDays: [1, (v) => Number.isInteger(v) && v > 0 && v < 8, 'an integer 1..7'],
  holdout: [0, num(0, 0.5), 'a rate in 0..0.5'],
};

/** Checks the integrator's options and fills defaults; throws AttnflowConfigError on bad input. */
export function resolveOptions(options: AttentionOptions | undefined): ResolvedOptions {
  options ??= {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new AttnflowConfigError(describe('options', 'an object', options));
  }
  for (const key in options) {
    if (!(key in RULES)) throw new AttnflowConfigError(describe(`unknown option "${key}"`, `one of ${Object.keys(RULES).join(', ')}`, key));
  }
  const out = {} as Record<string, unknown>;
  for (const [key, [fallback, ok, expected]] of Object.entries(RULES)) {
    let v = (options as Record<string, unknown>)[key];
    if (v === undefined) v = fallback;
    if (!ok(v)) throw new AttnflowConfigError(describe(key, expected, v));
    out[key] = v;
  }
  return out as unknown as ResolvedOptions;
}

/** The script tag's data-* attributes, in the order they are read; each sets the option of its name but for these two. */
const DATA = [
  'idleAfter',
  'requireConsent',
  'debug',
  'retentionDays',
  'maxItemRecords',
  'explore',
  'respectGpc',
  'respectDnt',
  'modelUrl',
  'collectUrl',
  'collectEpsilon',
  'collectPeriodDays',
  'holdout',
];
const RENAMED: Record<string, keyof ResolvedOptions> = { idleAfter: 'idleAfterMs', respectDnt: 'respectDoNotTrack' };

/**
 * Reads options from a script tag's data attributes:
 * `data-idle-after="5000"`, `data-require-consent`, `data-debug`, `data-retention-days="90"`,
 * `data-max-item-records="50000"`, `data-explore="0.1"`, `data-respect-gpc="false"`,
 * `data-respect-dnt="false"`, `data-model-url`, `data-collect-url`, `data-collect-epsilon="1"`,
 * `data-collect-period-days="1"`, `data-holdout="0.1"`. The option's default says what the value is:
 * a number, a boolean (a present attribute without a value, or "true", means true; "false" means
 * false), or a string (the URL).
 */
export function optionsFromDataset(dataset: DOMStringMap): AttentionOptions {
  const out: Record<string, unknown> = {};
  for (const attr of DATA) {
    const v = dataset[attr];
    if (v === undefined) continue;
    const key = RENAMED[attr] ?? (attr as keyof ResolvedOptions);
    const kind = typeof RULES[key][0];
    const n = Number(v);
    const value =
      kind === 'number'
        ? v.trim() && Number.isFinite(n)
          ? n
          : undefined
        : kind === 'boolean'
          ? v === '' || v === 'true' || (v === 'false' ? false : undefined)
          : v;
    if (value === undefined) {
      const name = `data-${attr.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new AttnflowConfigError(
        describe(name, kind === 'number' ? (attr === 'idleAfter' ? 'a number of ms' : 'a number') : '"true", "false" or no value', v),
      );
    }
    out[key] = value;
  }
  return out as AttentionOptions;
}
