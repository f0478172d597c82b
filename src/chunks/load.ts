/**
 * The lazy chunks, declared once: each file of this folder but the loaders is a chunk's entry, and
 * rollup builds `dist/attnflow-<name>.js` from it (rollup.config.mjs reads the folder). This loader
 * is the npm build's: bundlers split each `import()` into a file of their own. The script-tag
 * build swaps in `load.script.ts`, which loads the same chunks from the script's own folder.
 */
export interface Chunks {
  capture: typeof import('./capture');
  debug: typeof import('./debug');
  detect: typeof import('./detect');
  model: typeof import('./model');
  personalize: typeof import('./personalize');
  report: typeof import('./report');
  store: typeof import('./store');
}

const importers: { [K in keyof Chunks]: () => Promise<Chunks[K]> } = {
  capture: () => import('./capture'),
  debug: () => import('./debug'),
  detect: () => import('./detect'),
  model: () => import('./model'),
  personalize: () => import('./personalize'),
  report: () => import('./report'),
  store: () => import('./store'),
};

/** Loads chunk `name` on first use. */
export function loadChunk<K extends keyof Chunks>(name: K): Promise<Chunks[K]> {
  return importers[name]();
}

/** Where the script tag's chunks live; a bundler's build needs no such thing. */
export function setChunkBase(_url: string): void {}
