import { on, stopAll } from '../lib/on';

/**
 * Calls `cb(playing)` when whether any `<video>`/`<audio>` plays changes; a playing medium keeps
 * the visitor active. Media already playing when it starts count at once: it starts from the
 * capture chunk, a moment after the page.
 */
export function observeMedia(cb: (playing: boolean) => void): () => void {
  const playing = new Set<EventTarget>();
  const update = (e: Event) => {
    const was = playing.size > 0;
    if (e.type === 'playing') playing.add(e.target!);
    else playing.delete(e.target!);
    if (was !== playing.size > 0) cb(!was);
  };
  // Media events do not bubble; capturing on the document still sees them.
  const stop = stopAll.bind(
    null,
    ['playing', 'pause', 'ended', 'emptied'].map((type) => on(document, type, update)),
  );
  document.querySelectorAll('video,audio').forEach((m) => {
    if (!(m as HTMLMediaElement).paused) update({ type: 'playing', target: m } as unknown as Event);
  });
  return stop;
}
