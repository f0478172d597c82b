/**
 * Script-tag entry: `<script async src=".../attnflow.js" data-idle-after="5000">`.
 * Reads its own tag, creates one tracker, drains the command queue of the inline stub
 * (`window.attnflow = window.attnflow || []; attnflow.push(['consent', true])`), then
 * dispatches `attnflow:ready` on window.
 */
import { createAttention } from '../tracker';
import { loadChunk, setChunkBase } from '../chunks/load';
import { optionsFromDataset } from '../options';
import type { ModelChunk } from '../engine/chunk';
import type { Attention } from '../types';

/** A queued call: `[command, ...args]`. */
export type Command = [string, ...unknown[]];

/** What `window.attnflow` is once the script has run. */
export interface GlobalAttention extends Attention {
  /** Runs a command, as the stub's queue does: `attnflow.push(['consent', true])`. */
  push(...commands: Command[]): number;
  /** Loads the model chunk (tfjs) from the folder this script came from. */
  loadModel(): Promise<ModelChunk>;
  /** The version of the script. */
  version: string;
}

declare global {
  interface Window {
    attnflow?: GlobalAttention | Command[];
  }
}

declare const __VERSION__: string;
const MARK = '__attnflow';

function ownScript(): HTMLScriptElement | null {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement) return current;
  // async scripts run with currentScript set, but be safe when loaded by another loader.
  const all = document.querySelectorAll<HTMLScriptElement>('script[src*="attnflow"]');
  return all.length ? all[all.length - 1]! : null;
}

function boot(): void {
  const existing = window.attnflow;
  if (existing && (existing as unknown as Record<string, unknown>)[MARK]) {
    // Included twice: the first tracker stays the only one.
    return;
  }
  const queue: Command[] = Array.isArray(existing) ? existing.slice() : [];
  const tag = ownScript();
  if (tag?.src) setChunkBase(new URL('./', tag.src).href);

  let tracker: Attention;
  try {
    tracker = createAttention(tag ? optionsFromDataset(tag.dataset) : {});
  } catch (error) {
    // Bad data-* attributes are the integrator's error: say so clearly, but never break the page.
    console.error(error);
    return;
  }

  const run = (command: Command): void => {
    const name = Array.isArray(command) && command[0];
    const fn = typeof name === 'string' && name !== 'push' && name[0] !== '_' && (api as unknown as Record<string, unknown>)[name];
    if (typeof fn !== 'function') {
      console.warn('attnflow: ignored an unknown command, or a queued call that is not [command, ...args]:', command);
      return;
    }
    try {
      fn.apply(api, command.slice(1));
    } catch (error) {
      console.error(error);
    }
  };

  const api: GlobalAttention = {
    ...tracker,
    loadModel: () => loadChunk('model'),
    version: __VERSION__,
    push(...commands) {
      for (const command of commands) run(command);
      return 0;
    },
  };
  Object.defineProperty(api, MARK, { value: true });
  window.attnflow = api;
  for (const command of queue) run(command);
  window.dispatchEvent(new CustomEvent('attnflow:ready', { detail: api }));
}

if (typeof window !== 'undefined' && typeof document !== 'undefined') boot();
