export { createAttention } from '../tracker';
export { AttnflowBackendError, AttnflowConfigError } from '../lib/errors';
export type {
  Attention,
  AttentionEvents,
  AttentionOptions,
  AttentionSnapshot,
  ItemAttention,
  PageAttention,
} from '../types';
export type { ModelChunk, BackendInfo, BackendName } from '../engine/chunk';
export type {
  AttentionExport,
  CatalogueEntry,
  ItemRecord,
  ScoresRecord,
  SettingRecord,
  ViewRecord,
  TopicTotals,
  VisitorProfile,
  WeightsRecord,
} from '../types';

import { loadChunk } from '../chunks/load';
import type { ModelChunk } from '../engine/chunk';

/** Loads the model chunk (tfjs and the model's host) ahead of its first use. */
export const loadModelChunk = (): Promise<ModelChunk> => loadChunk('model');
