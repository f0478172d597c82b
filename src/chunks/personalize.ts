/**
 * Entry of the personalization chunk: loaded with `import()` only by pages that have something to
 * personalize (a `data-attn-rank` container, a `data-attn-variant` group), show the overlay, or
 * call `personalize()`, `explain()` or `scores()`.
 */
export { createPersonalization, createPersonalizer } from '../personalize/personalization';
export type { Personalization, PersonalizationHost, PersonalizeHost, Personalizer } from '../personalize/personalization';
