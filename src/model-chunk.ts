/**
 * Entry of the model chunk, loaded with `import()` only when a page personalizes. The page side
 * holds just the host; tfjs, the model and a backend load in the model Worker (or, where workers
 * are unavailable, on the page on first use). Backends are chunks of their own.
 */
import type { BackendInfo, BackendName } from './runtime/backend';
import { createModelHost, idle } from './runtime/host';
import { createLearner } from './runtime/learner';
import { createPageModel } from './runtime/page-model';

export { createModelHost, idle, createLearner, createPageModel };
export type { PageModel, PageModelOptions } from './runtime/page-model';
export type { Learner, LearnerDeps, LearnerState, LoggedView, Candidate, BackendChoice } from './runtime/learner';
export type { BackendInfo, BackendName } from './runtime/backend';
export type { ModelHost, HostOptions } from './runtime/host';
export type { EngineInit, EngineState, ProbeResult } from './runtime/engine';

/** Imports, registers and selects tfjs backend `name` on this thread; rejects when it cannot run. */
export async function initBackend(name: BackendName): Promise<BackendInfo> {
  return (await import('./runtime/backend')).initBackend(name);
}

/** The WebGL context tfjs draws with on this thread, when the webgl backend is active. */
export async function webglContext(): Promise<WebGLRenderingContext | undefined> {
  return (await import('./runtime/backend')).webglContext();
}

/** What the model chunk offers to the core. */
export interface ModelChunk {
  initBackend: typeof initBackend;
  createModelHost: typeof createModelHost;
  webglContext: typeof webglContext;
  idle: typeof idle;
  createLearner: typeof createLearner;
  createPageModel: typeof createPageModel;
}
