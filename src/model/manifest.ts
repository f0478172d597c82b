/**
 * The site's model behind `modelUrl`: its manifest, read and checked, and the weights it names.
 * One reader for the page (the model chunk) and for Node (tests, tools): the caller gives the fetch.
 */
import type { ModelManifest } from './types';

/** A site model: its manifest's text is its id, so new weights or a new training are a new id. */
export interface SiteModel {
  /** Reads the manifest; resolves with an id that changes whenever the model does. */
  manifest(): Promise<string>;
  /** The weights the manifest names (after `manifest()`). */
  weights(): Promise<Uint8Array>;
}

/**
 * The model behind manifest `url`, resolved against `base` (the page's address where there is one).
 * `fetchFn` is the page's fetch, same-origin credentials, unless the caller gives its own.
 */
export function siteModel(
  url: string,
  fetchFn: (url: string) => Promise<Response> = (u) => fetch(u, { credentials: 'same-origin' }),
  base: string | undefined = (globalThis as { location?: { href: string } }).location?.href,
): SiteModel {
  let weightsUrl: string | undefined;
  return {
    async manifest() {
      const got = await fetchFn(url);
      if (!got.ok) throw new Error(`attnflow: model manifest ${url}: HTTP ${got.status}`);
      const text = await got.text();
      let manifest: Partial<ModelManifest> | undefined;
      try {
        manifest = JSON.parse(text);
      } catch {
        // Named below.
      }
      if (manifest?.format !== 'attnflow-model' || typeof manifest.weights !== 'string') {
        throw new Error(`attnflow: ${url} is not an attnflow model manifest`);
      }
      weightsUrl = new URL(manifest.weights, new URL(url, base)).href;
      return text;
    },
    async weights() {
      if (!weightsUrl) throw new Error('attnflow: the model manifest was not read');
      const res = await fetchFn(weightsUrl);
      if (!res.ok) throw new Error(`attnflow: model weights: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}
