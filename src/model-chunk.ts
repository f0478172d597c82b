/**
 * Entry of the model chunk: tfjs and the attention model, loaded with `import()` only when a page
 * personalizes. Backends are further chunks, so a page pays only for the one it runs on.
 */
import { backend, findBackendFactory, ready, setBackend } from '@tensorflow/tfjs-core';

/** A tfjs backend attnflow can run on. */
export type BackendName = 'webgl' | 'wasm' | 'cpu';

/** What the chosen backend is. */
export interface BackendInfo {
  /** The backend in use. */
  name: BackendName;
  /** The GPU renderer for webgl (e.g. "ANGLE (Google, Vulkan 1.3.0 (SwiftShader ...))"), else undefined. */
  renderer?: string;
  /** True when WebGL runs in software (SwiftShader, llvmpipe), where WASM is usually faster. */
  software?: boolean;
  /** Time to import and initialize the backend, ms. */
  initMs: number;
}

/** What the model chunk offers to the core. */
export interface ModelChunk {
  initBackend(name: BackendName): Promise<BackendInfo>;
}

const SOFTWARE_GL = /swiftshader|llvmpipe|softpipe|software/i;

async function importBackend(name: BackendName): Promise<void> {
  if (findBackendFactory(name)) return;
  if (name === 'webgl') await import('./backends/webgl');
  else if (name === 'cpu') await import('./backends/cpu');
  else {
    const wasm = await import('./backends/wasm');
    // The .wasm files are shipped beside this chunk, never fetched from a CDN.
    wasm.useWasmFrom(new URL('./', import.meta.url).href);
  }
}

function webglRenderer(): string | undefined {
  const current = backend() as unknown as { gpgpu?: { gl?: WebGLRenderingContext } };
  const gl = current.gpgpu?.gl;
  if (!gl) return undefined;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}

/** Imports, registers and selects backend `name`; rejects when it cannot run here. */
export async function initBackend(name: BackendName): Promise<BackendInfo> {
  const t0 = performance.now();
  await importBackend(name);
  const ok = await setBackend(name);
  if (!ok) throw new Error(`attnflow: the ${name} backend failed to initialize`);
  await ready();
  const info: BackendInfo = { name, initMs: performance.now() - t0 };
  if (name === 'webgl') {
    info.renderer = webglRenderer();
    info.software = info.renderer ? SOFTWARE_GL.test(info.renderer) : undefined;
  }
  return info;
}
