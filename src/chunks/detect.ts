/** Entry of the item detection chunk: loaded only by pages without `data-attn-item` markup. */
export { addsItems, scan, sources } from '../capture/detect';
export type { Found, TopicSource } from '../capture/detect';
