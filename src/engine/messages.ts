/** Messages between the page and the model Worker. */
export type EngineOp = 'init' | 'score' | 'train' | 'federate' | 'save' | 'load' | 'numTensors' | 'info' | 'dispose';

export interface EngineRequest {
  id: number;
  op: EngineOp;
  args: unknown[];
}

export type EngineResponse = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { name: string; message: string } };

/** The buffers of typed arrays in `value`, so postMessage moves them instead of copying. */
export function transferables(value: unknown): Transferable[] {
  if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer) return [value.buffer];
  return [];
}

/**
 * The worker's side of the host's `packer` (score and train arguments as JSON text, candidates
 * only when they changed), for requests in the order they were sent.
 */
export function unpacker(): (op: EngineOp, args: unknown[]) => unknown[] {
  let candidates: unknown;
  // Text is JSON; anything else (undefined has no JSON) goes on as it came, for the engine to judge.
  const parse = (a: unknown): unknown => (typeof a === 'string' ? JSON.parse(a) : a);
  return (op, args) => {
    if (op === 'train') return [parse(args[0]), args[1]];
    if (op !== 'score') return args;
    if (args[1] !== null) candidates = parse(args[1]);
    return [parse(args[0]), candidates, args[2]];
  };
}
