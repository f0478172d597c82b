/** The protocol lives with the model so the training CLI can validate with it too. */
export * from '../../src/offline/eval-protocol';
