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

  it("checks the reports' and the holdout's options, from code and from the script tag", () => {
    expect(resolveOptions({})).toMatchObject({ collectUrl: undefined, collectEpsilon: 1, collectPeriodDays: 1, holdout: 0 });
    expect(resolveOptions({ collectUrl: 'https://c.example/report', collectEpsilon: 4, collectPeriodDays: 7, holdout: 0.1 })).toMatchObject(
      {
        collectUrl: 'https://c.example/report',
        collectEpsilon: 4,
        collectPeriodDays: 7,
        holdout: 0.1,
      },
    );
    expect(() => resolveOptions({ collectUrl: ' ' })).toThrow('collectUrl: expected a URL (string), received " "');
    expect(() => resolveOptions({ collectEpsilon: 0 })).toThrow('collectEpsilon: expected a number > 0 and ≤ 10, received 0');
    expect(() => resolveOptions({ collectEpsilon: 11 })).toThrow(AttnflowConfigError);
    expect(() => resolveOptions({ collectPeriodDays: 1.5 })).toThrow('collectPeriodDays: expected an integer 1..7, received 1.5');
    expect(() => resolveOptions({ collectPeriodDays: 8 })).toThrow(AttnflowConfigError);
    expect(() => resolveOptions({ holdout: 0.6 })).toThrow('holdout: expected a rate in 0..0.5, received 0.6');
    expect(optionsFromDataset({ collectUrl: '/attn/report', collectEpsilon: '2', collectPeriodDays: '3', holdout: '0.2' })).toEqual({
      collectUrl: '/attn/report',
      collectEpsilon: 2,
      collectPeriodDays: 3,
      holdout: 0.2,
    });
    expect(() => optionsFromDataset({ collectEpsilon: 'high' })).toThrow('data-collect-epsilon: expected a number, received "high"');
  });

  it('createAttention rejects bad options at start-up', () => {
    expect(() => createAttention({ idleAfterMs: Number.NaN })).toThrow(AttnflowConfigError);
  });
});
