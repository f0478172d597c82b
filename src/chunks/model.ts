/**
 * Entry of the model chunk, loaded with `import()` only when a page personalizes: the page side
 * of the model (its host and learner); tfjs, the model and a backend load in the model Worker (or,
 * where workers are unavailable, on the page on first use). Backends are chunks of their own.
 */
export { createLearner, createModelHost, createPageModel, idle, initBackend, webglContext } from '../engine/chunk';
export type * from '../engine/chunk';
