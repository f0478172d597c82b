/**
 * What the model chunk (`chunks/model.ts`) offers the page: the host of the model Worker, the
 * learner and the page model, and the backends, each imported on first use as a chunk of its own.
 */
import type { BackendInfo, BackendName } from './backend';
import { createModelHost, idle } from './host';
import { createLearner } from './learner';
import { createPageModel } from './page-model';

export { createModelHost, idle, createLearner, createPageModel };
export type { PageModel, PageModelOptions } from './page-model';
export type { Learner, LearnerDeps, LearnerState, LoggedView, Candidate, BackendChoice } from './learner';
export type { BackendInfo, BackendName } from './backend';
export type { ModelHost, HostOptions } from './host';
export type { EngineInit, EngineState, ProbeResult } from './engine';

/** Imports, registers and selects tfjs backend `name` on this thread; rejects when it cannot run. */
export async function initBackend(name: BackendName): Promise<BackendInfo> {
  return (await import('./backend')).initBackend(name);
}

/** The WebGL context tfjs draws with on this thread, when the webgl backend is active. */
export async function webglContext(): Promise<WebGLRenderingContext | undefined> {
  return (await import('./backend')).webglContext();
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
