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
}

const KNOWN = new Set(['idleAfterMs', 'requireConsent', 'debug', 'onError', 'root', 'retentionDays', 'maxItemRecords', 'respectGpc', 'respectDoNotTrack', 'explore', 'modelUrl']);

/** Checks the integrator's options and fills defaults; throws AttnflowConfigError on bad input. */
export function resolveOptions(options: AttentionOptions | undefined): ResolvedOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new AttnflowConfigError(describe('options', 'an object', options));
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new AttnflowConfigError(
        describe(`unknown option "${key}"`, `one of ${[...KNOWN].join(', ')}`, key),
      );
    }
  }
  const { idleAfterMs = 5000, requireConsent = false, debug = false, onError, root } = options;
  if (typeof idleAfterMs !== 'number' || !Number.isFinite(idleAfterMs) || idleAfterMs < 100) {
    throw new AttnflowConfigError(describe('idleAfterMs', 'a number of ms ≥ 100', idleAfterMs));
  }
  if (typeof requireConsent !== 'boolean') {
    throw new AttnflowConfigError(describe('requireConsent', 'a boolean', requireConsent));
  }
  if (typeof debug !== 'boolean') {
    throw new AttnflowConfigError(describe('debug', 'a boolean', debug));
  }
  if (onError !== undefined && typeof onError !== 'function') {
    throw new AttnflowConfigError(describe('onError', 'a function', onError));
  }
  if (root !== undefined && (root === null || typeof (root as ParentNode).querySelectorAll !== 'function')) {
    throw new AttnflowConfigError(describe('root', 'a Document or Element', root));
  }
  const { retentionDays = 90, maxItemRecords = 50_000, respectGpc = true, respectDoNotTrack = true } = options;
  if (typeof retentionDays !== 'number' || !(retentionDays > 0) || retentionDays > 3650) {
    throw new AttnflowConfigError(describe('retentionDays', 'a number of days > 0 and ≤ 3650', retentionDays));
  }
  if (!Number.isInteger(maxItemRecords) || maxItemRecords < 1) {
    throw new AttnflowConfigError(describe('maxItemRecords', 'an integer ≥ 1', maxItemRecords));
  }
  if (typeof respectGpc !== 'boolean') {
    throw new AttnflowConfigError(describe('respectGpc', 'a boolean', respectGpc));
  }
  if (typeof respectDoNotTrack !== 'boolean') {
    throw new AttnflowConfigError(describe('respectDoNotTrack', 'a boolean', respectDoNotTrack));
  }
  const { explore = 0.1 } = options;
  if (typeof explore !== 'number' || !(explore >= 0 && explore <= 1)) {
    throw new AttnflowConfigError(describe('explore', 'a rate in 0..1', explore));
  }
  const { modelUrl } = options;
  if (modelUrl !== undefined && (typeof modelUrl !== 'string' || !modelUrl.trim())) {
    throw new AttnflowConfigError(describe('modelUrl', 'a URL of a model manifest (string)', modelUrl));
  }
  return { idleAfterMs, requireConsent, debug, onError, root, retentionDays, maxItemRecords, respectGpc, respectDoNotTrack, explore, modelUrl };
}

/**
 * Reads options from a script tag's data attributes:
 * `data-idle-after="5000"`, `data-require-consent`, `data-debug`, `data-retention-days="90"`,
 * `data-max-item-records="50000"`, `data-respect-gpc="false"`, `data-respect-dnt="false"`.
 * A present attribute without a value (or "true") means true; "false" means false.
 */
export function optionsFromDataset(dataset: DOMStringMap): AttentionOptions {
  const out: AttentionOptions = {};
  const flag = (name: string, value: string | undefined): boolean => {
    if (value === '' || value === 'true') return true;
    if (value === 'false') return false;
    throw new AttnflowConfigError(describe(`data-${name}`, '"true", "false" or no value', value));
  };
  if (dataset.idleAfter !== undefined) {
    const n = Number(dataset.idleAfter);
    if (dataset.idleAfter.trim() === '' || !Number.isFinite(n)) {
      throw new AttnflowConfigError(describe('data-idle-after', 'a number of ms', dataset.idleAfter));
    }
    out.idleAfterMs = n;
  }
  if (dataset.requireConsent !== undefined) out.requireConsent = flag('require-consent', dataset.requireConsent);
  if (dataset.debug !== undefined) out.debug = flag('debug', dataset.debug);
  for (const [key, attr] of [['retentionDays', 'retention-days'], ['maxItemRecords', 'max-item-records'], ['explore', 'explore']] as const) {
    const v = dataset[key];
    if (v === undefined) continue;
    if (v.trim() === '' || !Number.isFinite(Number(v))) throw new AttnflowConfigError(describe(`data-${attr}`, 'a number', v));
    out[key] = Number(v);
  }
  if (dataset.respectGpc !== undefined) out.respectGpc = flag('respect-gpc', dataset.respectGpc);
  if (dataset.respectDnt !== undefined) out.respectDoNotTrack = flag('respect-dnt', dataset.respectDnt);
  if (dataset.modelUrl !== undefined) out.modelUrl = dataset.modelUrl;
  return out;
}
