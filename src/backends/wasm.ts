// Registers the tfjs WASM backend; its .wasm binaries are served from the chunk's own folder.
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export function useWasmFrom(folder: string): void {
  setWasmPaths(folder);
}
