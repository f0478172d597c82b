import { AttnflowConfigError, describe } from './lib/errors';
import type { AttentionOptions } from './types';

/** Options with every default filled in. */
export interface ResolvedOptions {
  idleAfterMs: number;
  requireConsent: boolean;
  debug: boolean;
  onError: ((error: unknown) => void) | undefined;
  root: ParentNode | undefined;
}

const KNOWN = new Set(['idleAfterMs', 'requireConsent', 'debug', 'onError', 'root']);

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
  return { idleAfterMs, requireConsent, debug, onError, root };
}

/**
 * Reads options from a script tag's data attributes:
 * `data-idle-after="5000"`, `data-require-consent`, `data-debug`.
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
  return out;
}
