/**
 * Capture that can start a moment after the page does, so that it stays out of the script every
 * page waits for: rage and dead clicks (nobody is frustrated by a page in its first moments) and
 * playing media (the page being loaded already counts as input, and the media playing by the time
 * this chunk arrives are found then), scroll depth (the deepest point reached: read first when this
 * chunk arrives, a scroll in between is seen where it ended), and pinch-zoom (a page is rarely
 * zoomed in its first moments, and one zoomed already is found then). Loaded right after start-up
 * as `attnflow-capture.js`.
 */
export { observeFrustration } from '../capture/frustration';
export { observeMedia } from '../capture/media';
export { observeScroll } from '../capture/scroll';
export { observeZoom } from '../capture/zoom';
export { placeBoxes } from '../capture/boxes';
