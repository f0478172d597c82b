import { describe, expect, it } from 'vitest';
import { optionsFromDataset, resolveOptions } from '../../src/options';
import { AttnflowConfigError } from '../../src/lib/errors';
import { createAttention } from '../../src/tracker';

describe('options', () => {
  it('fills defaults', () => {
    expect(resolveOptions(undefined)).toMatchObject({ idleAfterMs: 5000, requireConsent: false, debug: false });
  });

  it('names what was expected and what was received', () => {
    expect(() => resolveOptions({ idleAfterMs: -1 })).toThrow(AttnflowConfigError);
    expect(() => resolveOptions({ idleAfterMs: -1 })).toThrow('idleAfterMs: expected a number of ms ≥ 100, received -1');
    expect(() => resolveOptions({ debug: 'yes' as unknown as boolean })).toThrow('debug: expected a boolean, received "yes"');
    expect(() => resolveOptions({ idleAfter: 5 } as never)).toThrow('unknown option "idleAfter"');
    expect(() => resolveOptions({ onError: 3 } as never)).toThrow('onError: expected a function, received 3');
  });

  it('reads the script tag data attributes', () => {
    expect(optionsFromDataset({ idleAfter: '2500', requireConsent: '', debug: 'false' })).toEqual({
      idleAfterMs: 2500,
      requireConsent: true,
      debug: false,
    });
    expect(() => optionsFromDataset({ idleAfter: 'soon' })).toThrow('data-idle-after: expected a number of ms, received "soon"');
    expect(() => optionsFromDataset({ debug: 'maybe' })).toThrow(AttnflowConfigError);
  });

  it('createAttention rejects bad options at start-up', () => {
    expect(() => createAttention({ idleAfterMs: Number.NaN })).toThrow(AttnflowConfigError);
  });
});
