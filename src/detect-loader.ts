/** Loads item detection, which only pages without `data-attn-item` markup need; bundlers split it off. */
export function loadDetect(): Promise<typeof import('./capture/detect')> {
  return import('./capture/detect');
}
