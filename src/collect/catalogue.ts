/**
 * The site's catalogue: the items (with their topics) and personalized containers the collector asks
 * about. Its questions (`questionsOf`) are public: a report names the question it answers, drawn
 * uniformly, never anything of its own; an item absent from the catalogue is simply not asked about.
 */
import { readFileSync } from 'node:fs';
import { isName } from '../report/questions';

/** One item of the catalogue. */
export interface CatalogueItem {
  /** The item id, as the SDK keeps it (`data-attn-item` or the detected id). */
  id: string;
  /** Its topics; a topic's estimates are sums over its items. */
  topics: string[];
}

/** The catalogue file: `{ "items": [{ "id", "topics" }], "containers": ["…"] }`. */
export interface Catalogue {
  /** Items to estimate. */
  items: CatalogueItem[];
  /** Personalized containers (`data-attn-rank` ids) to estimate the lift of. */
  containers: string[];
}

const isString = (x: unknown): x is string => typeof x === 'string';

/** Checks a parsed catalogue; throws with what was expected and what was received. `source` names it in messages. */
export function parseCatalogue(json: unknown, source = 'catalogue'): Catalogue {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${source}: expected a JSON object { items, containers }`);
  const { items, containers } = json as { items?: unknown; containers?: unknown };
  if (!Array.isArray(items)) throw new Error(`${source}: "items" must be an array of { "id": string, "topics": string[] }`);
  const seen = new Set<string>();
  const parsed = items.map((item, i): CatalogueItem => {
    const { id, topics } = (item ?? {}) as { id?: unknown; topics?: unknown };
    if (!isName(id))
      throw new Error(
        `${source}: items[${i}].id must be 1 to 200 characters without control characters (tabs, line breaks), received ${JSON.stringify(id)}`,
      );
    if (seen.has(id)) throw new Error(`${source}: items[${i}].id ${JSON.stringify(id)} appears twice`);
    seen.add(id);
    if (topics !== undefined && !(Array.isArray(topics) && topics.every(isString))) {
      throw new Error(`${source}: items[${i}].topics must be an array of strings`);
    }
    return { id, topics: [...new Set((topics as string[] | undefined) ?? [])] };
  });
  if (containers !== undefined && !(Array.isArray(containers) && containers.every(isName))) {
    throw new Error(`${source}: "containers" must be an array of names of 1 to 200 characters without control characters`);
  }
  return { items: parsed, containers: [...new Set((containers as string[] | undefined) ?? [])] };
}

/** Reads and checks the catalogue file at `file`; errors name the file. */
export function loadCatalogue(file: string): Catalogue {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not JSON: ${(error as Error).message}`);
  }
  return parseCatalogue(json, file);
}
