/** Entry of the debug overlay chunk: loaded only with `?attn-debug` in the URL or `debug: true`. */
export { mountOverlay } from '../debug/overlay';
export type { OverlayHost } from '../debug/overlay';
