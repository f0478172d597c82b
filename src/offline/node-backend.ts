/**
 * Node only (offline evaluation and the training CLI): registers the WASM backend with its .wasm
 * files read from node_modules. Never imported by the browser entry.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';

/** Selects `wasm` (default; ~15x faster than `cpu` here) or `cpu`; returns the backend in use. */
export async function useNodeBackend(name: 'wasm' | 'cpu' = 'wasm'): Promise<string> {
  if (name === 'wasm') {
    const require = createRequire(import.meta.url);
    const main = require.resolve('@tensorflow/tfjs-backend-wasm');
    // Emscripten in Node reads the files from disk: a plain path with a trailing slash.
    setWasmPaths(path.dirname(main) + path.sep);
  } else {
    await import('@tensorflow/tfjs-backend-cpu');
  }
  if (!(await tf.setBackend(name))) throw new Error(`attnflow: the ${name} backend failed to initialize`);
  await tf.ready();
  return tf.getBackend();
}
