/**
 * Entry of the personalization chunk: loaded with `import()` only by pages that have something to
 * personalize (a `data-attn-rank` container, a `data-attn-variant` group) or call `personalize()`.
 */
export { createPersonalizer } from './personalize/personalizer';
export type { PersonalizeHost, Personalizer } from './personalize/personalizer';
