/**
 * tfjs backends: import on demand (each is a chunk of its own), initialize, describe.
 */
import { backend, enableProdMode, findBackendFactory, ready, removeBackend, setBackend } from '@tensorflow/tfjs-core';
import { pause } from '../lib/pause';

/** A tfjs backend attnflow can run on. */
export type BackendName = 'webgl' | 'wasm' | 'cpu';

/** The order backends are tried in when nothing has been measured yet. */
export const BACKENDS: readonly BackendName[] = ['webgl', 'wasm', 'cpu'];

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

const SOFTWARE_GL = /swiftshader|llvmpipe|softpipe|software|basic render/i;

/** True when `renderer` names a software rasterizer. */
export function isSoftwareRenderer(renderer: string | undefined): boolean {
  return renderer ? SOFTWARE_GL.test(renderer) : false;
}

/** What `probeRenderer` found, once read. */
let renderer: { value: string | undefined } | undefined;

/**
 * The WebGL renderer string of this device without loading tfjs, or undefined where WebGL2 is
 * missing. One throwaway context (tens of ms on some devices), read once.
 */
export function probeRenderer(): string | undefined {
  return (renderer ??= { value: readRenderer() }).value;
}

function readRenderer(): string | undefined {
  try {
    const canvas: HTMLCanvasElement | OffscreenCanvas | undefined =
      typeof OffscreenCanvas !== 'undefined'
        ? new OffscreenCanvas(1, 1)
        : typeof document !== 'undefined'
          ? document.createElement('canvas')
          : undefined;
    const gl = canvas?.getContext('webgl2') as WebGL2RenderingContext | null | undefined;
    if (!gl) return undefined;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return renderer;
  } catch {
    return undefined;
  }
}

let wasmFolder = '';

/** Folder (absolute URL ending in "/") the WASM backend loads its .wasm binaries from. */
export function setWasmFolder(url: string): void {
  wasmFolder = url;
}

async function importBackend(name: BackendName): Promise<void> {
  if (findBackendFactory(name)) return;
  if (name === 'webgl') await import('./backends/webgl');
  else if (name === 'cpu') await import('./backends/cpu');
  else {
    const wasm = await import('./backends/wasm');
    // The .wasm files are shipped beside the chunk, never fetched from a CDN.
    wasm.useWasmFrom(wasmFolder || new URL('./', import.meta.url).href);
  }
}

function webglRenderer(): string | undefined {
  const current = backend() as unknown as { gpgpu?: { gl?: WebGLRenderingContext } };
  const gl = current.gpgpu?.gl;
  if (!gl) return undefined;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}

/** The WebGL context tfjs draws with, when the webgl backend is active. */
export function webglContext(): WebGLRenderingContext | undefined {
  const current = backend() as unknown as { gpgpu?: { gl?: WebGLRenderingContext } };
  return current.gpgpu?.gl;
}

/**
 * Imports, registers and selects backend `name`; rejects when it cannot run here. Says nothing on
 * the console: a backend that fails is the caller's to report (through `onError` and the debug
 * log), not the host page's console's.
 */
export async function initBackend(name: BackendName): Promise<BackendInfo> {
  const t0 = performance.now();
  // tfjs's own warnings ("Initialization of backend … failed", with a stack) stay off the console.
  enableProdMode();
  // Where WebGL2 is missing, tfjs's WebGL backend would log its failed context on the console.
  if (name === 'webgl' && !probeRenderer()) throw new Error('attnflow: WebGL2 is unavailable here');
  await importBackend(name);
  // Loading a backend's code and starting it are tasks of their own: the WASM backend's start
  // (its module, then a setup per kernel) runs in promise callbacks, which would otherwise join
  // whatever comes next into one long task.
  await pause();
  const ok = await setBackend(name);
  if (!ok) throw new Error(`attnflow: the ${name} backend failed to initialize`);
  await ready();
  await pause();
  const info: BackendInfo = { name, initMs: performance.now() - t0 };
  if (name === 'webgl') {
    info.renderer = webglRenderer();
    info.software = isSoftwareRenderer(info.renderer);
  }
  return info;
}

/** Drops a backend that broke (lost context, failed kernel) so it is not picked again. */
export function dropBackend(name: BackendName): void {
  try {
    removeBackend(name);
  } catch {
    // Already gone.
  }
}
