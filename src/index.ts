export { createAttention } from './tracker';
export { AttnflowBackendError, AttnflowConfigError } from './lib/errors';
export { loadModelChunk } from './model-loader';
export type {
  Attention,
  AttentionEvents,
  AttentionOptions,
  AttentionSnapshot,
  ItemAttention,
  PageAttention,
} from './types';
export type { ModelChunk, BackendInfo, BackendName } from './model-chunk';
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
} from './types';
