// Registers the tfjs WASM backend with only the kernels the model runs; its .wasm binaries are
// served from the chunk's own folder.
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm/dist/base';
import './wasm.kernels.generated';

export function useWasmFrom(folder: string): void {
  setWasmPaths(folder);
}
