/** Messages between the page and the model Worker. */
export type EngineOp = 'init' | 'score' | 'train' | 'save' | 'load' | 'numTensors' | 'info' | 'dispose';

export interface EngineRequest {
  id: number;
  op: EngineOp;
  args: unknown[];
}

export type EngineResponse =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string } };

/** The buffers of typed arrays in `value`, so postMessage moves them instead of copying. */
export function transferables(value: unknown): Transferable[] {
  if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer) return [value.buffer];
  return [];
}
