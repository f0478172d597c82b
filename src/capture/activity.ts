import { on, stopAll } from '../lib/on';

/** The inputs that show the visitor is there. */
const INPUTS = ['scroll', 'wheel', 'pointermove', 'pointerdown', 'keydown', 'touchstart'];

/** Calls `cb` on every input (scroll, wheel, pointer move/down, key, touch); passive, captured on the document. */
export function observeActivity(cb: () => void): () => void {
  return stopAll.bind(null, INPUTS.map((type) => on(document, type, cb)));
}

/** Calls `cb(playing)` when whether any `<video>`/`<audio>` plays changes; a playing medium keeps the visitor active. */
export function observeMedia(cb: (playing: boolean) => void): () => void {
  const playing = new Set<EventTarget>();
  const update = (e: Event) => {
    const was = playing.size > 0;
    if (e.type === 'playing') playing.add(e.target!);
    else playing.delete(e.target!);
    if (was !== playing.size > 0) cb(!was);
  };
  // Media events do not bubble; capturing on the document still sees them.
  const stop = stopAll.bind(null, ['playing', 'pause', 'ended', 'emptied'].map((type) => on(document, type, update)));
  document.querySelectorAll('video,audio').forEach((m) => {
    if (!(m as HTMLMediaElement).paused) update({ type: 'playing', target: m } as unknown as Event);
  });
  return stop;
}
