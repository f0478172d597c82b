import { readFileSync, readdirSync, mkdirSync, copyFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import typescript from '@rollup/plugin-typescript';
import resolve from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';
import terser from '@rollup/plugin-terser';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const external = [...Object.keys(pkg.dependencies ?? {})];
const isExternal = (id) => external.some((dep) => id === dep || id.startsWith(`${dep}/`));

const ts = () =>
  typescript({ tsconfig: './tsconfig.build.json', declaration: false, outDir: undefined, rootDir: undefined, noEmitOnError: false });

const version = () => ({
  name: 'version',
  transform(code) {
    return code.includes('__VERSION__') ? code.replaceAll('__VERSION__', JSON.stringify(pkg.version)) : null;
  },
});

// The lazy chunks: every file of src/chunks/ but its loaders is the entry of `dist/attnflow-<name>.js`.
const CHUNKS = readdirSync(new URL('./src/chunks/', import.meta.url))
  .filter((f) => f.endsWith('.ts') && !f.startsWith('load'))
  .map((f) => f.slice(0, -3));
const chunkInputs = (names) => Object.fromEntries(names.map((n) => [`attnflow-${n}`, `src/chunks/${n}.ts`]));
// Built on their own: the model (tfjs bundled, with its worker) and late capture (every page loads
// it right after start-up; alone, the helpers it shares with the log stay inside it instead of
// becoming one more file to fetch). The rest are built together.
const ALONE = ['model', 'capture'];

// In the script-tag builds chunks load by URL from the script's own folder: src/chunks/load.ts
// becomes load.script.ts.
const scriptChunks = () => ({
  name: 'script-chunks',
  resolveId(source, importer) {
    const load = /(^|\/)chunks\/load$/.test(source) || (source === './load' && /\/src\/chunks\//.test(importer ?? ''));
    return importer && load ? fileURLToPath(new URL('./src/chunks/load.script.ts', import.meta.url)) : null;
  },
});

// The wasm backend's binaries ship beside the model chunk so no CDN is ever asked.
const copyWasm = () => ({
  name: 'copy-wasm',
  writeBundle() {
    const from = new URL('./node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url);
    mkdirSync(new URL('./dist/', import.meta.url), { recursive: true });
    for (const file of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
      copyFileSync(new URL(file, from), new URL(`./dist/${file}`, import.meta.url));
    }
  },
});

// dist/chunks.json: each chunk's static and dynamic imports, so the size report can sum what a
// page really downloads on each path (entry + backend).
const chunkManifest = () => ({
  name: 'chunk-manifest',
  generateBundle(_options, bundle) {
    const chunks = {};
    for (const [file, chunk] of Object.entries(bundle)) {
      if (chunk.type !== 'chunk') continue;
      chunks[file] = { imports: chunk.imports, dynamicImports: chunk.dynamicImports, modules: Object.keys(chunk.modules).length };
    }
    this.emitFile({ type: 'asset', fileName: 'chunks.json', source: JSON.stringify(chunks, null, 2) });
  },
});

const min = () =>
  terser({
    format: { comments: false },
    compress: { passes: 2 },
  });

// The model chunks run most of their functions as soon as they load: V8 compiles them all while
// the script streams in, off the main thread, instead of one by one on first call (a cold page's
// first training step spent tens of ms compiling). Added after minifying, which drops comments.
const compileHints = () => ({
  name: 'compile-hints',
  renderChunk(code) {
    return { code: `//# allFunctionsCalledOnLoad\n${code}`, map: null };
  },
});

// The collector dashboard's page and stylesheet ship beside its script.
const copyDashboard = () => ({
  name: 'copy-dashboard',
  writeBundle() {
    const to = new URL('./dist/collect/dashboard/', import.meta.url);
    mkdirSync(to, { recursive: true });
    for (const file of ['index.html', 'dashboard.css']) {
      copyFileSync(new URL(`./src/collect/dashboard/${file}`, import.meta.url), new URL(file, to));
    }
  },
});

const onwarn = (warning, warn) => {
  // tfjs uses `this` at module level in a few CommonJS helpers; harmless.
  if (warning.code === 'THIS_IS_UNDEFINED') return;
  if (warning.code === 'CIRCULAR_DEPENDENCY' && /node_modules/.test(warning.message)) return;
  warn(warning);
};

export default [
  // ESM for bundlers: dependencies stay external, the model is its own chunk.
  {
    input: { index: 'src/entries/index.ts', 'attnflow-worker': 'src/entries/worker.ts' },
    external: isExternal,
    plugins: [version(), ts()],
    output: { dir: 'dist/esm', format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name].js' },
    onwarn,
  },
  // The script tag: one small self-contained IIFE.
  {
    input: 'src/entries/script.ts',
    plugins: [scriptChunks(), version(), resolve({ browser: true }), ts(), min()],
    output: { file: 'dist/attnflow.js', format: 'iife', inlineDynamicImports: true },
    onwarn,
  },
  // The IndexedDB log, item detection, personalization and the debug overlay: chunks the script tag loads from its own folder.
  {
    input: chunkInputs(CHUNKS.filter((n) => !ALONE.includes(n))),
    plugins: [scriptChunks(), version(), resolve({ browser: true }), ts(), min()],
    output: {
      dir: 'dist',
      format: 'es',
      entryFileNames: '[name].js',
      chunkFileNames: 'attnflow-[name].js',
      // Every module of src/store/ and the domain rules go to the log chunk, which every page has
      // loaded already: what personalization shares with the log (the aggregates' arithmetic, the
      // rules) is no file more to fetch.
      // The tab election stays with the chunks that use it (the reports'), not in every page's log.
      manualChunks: (id) => (/\/src\/(store\/(?!tabs\b)[\w-]+|rules|chunks\/store)\.ts$/.test(id) ? 'attnflow-store' : undefined),
    },
    preserveEntrySignatures: 'allow-extension',
    onwarn,
  },
  // Late capture (rage and dead clicks, media), which every page loads right after start-up: built
  // on its own, so that the helpers it shares with the log stay inside each chunk instead of
  // becoming one more file to fetch.
  {
    input: chunkInputs(['capture']),
    plugins: [scriptChunks(), version(), resolve({ browser: true }), ts(), min()],
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].js' },
    onwarn,
  },
  // The model chunk the script tag loads from its own folder: tfjs bundled, backends split off.
  {
    input: { ...chunkInputs(['model']), 'attnflow-worker': 'src/entries/worker.ts' },
    plugins: [scriptChunks(), version(), resolve({ browser: true }), commonjs(), ts(), min(), compileHints(), copyWasm(), chunkManifest()],
    output: {
      dir: 'dist',
      format: 'es',
      entryFileNames: '[name].js',
      chunkFileNames: 'attnflow-[name].js',
      manualChunks(id) {
        if (id.includes('/@tensorflow/tfjs-core/')) return 'tfjs-core';
        return undefined;
      },
    },
    onwarn,
  },
  // attnflow-train, the site-wide pretraining CLI (Node): the same model code, tfjs from node_modules.
  {
    input: 'src/entries/train.ts',
    external: (id) => id.startsWith('node:') || isExternal(id),
    plugins: [version(), ts()],
    output: { file: 'dist/cli/attnflow-train.js', format: 'es', banner: '#!/usr/bin/env node', inlineDynamicImports: true },
    onwarn,
  },
  // attnflow-collect, the collector of private attention reports (Node): server, storage and estimator; its database drivers from node_modules.
  {
    input: 'src/entries/collect.ts',
    external: (id) => id.startsWith('node:') || isExternal(id),
    plugins: [version(), ts()],
    output: { file: 'dist/cli/attnflow-collect.js', format: 'es', banner: '#!/usr/bin/env node', inlineDynamicImports: true },
    onwarn,
  },
  // attnflow-collect's dashboard (browser): Chart.js bundled, served by the collector with its page and stylesheet.
  {
    input: 'src/collect/dashboard/dashboard.ts',
    plugins: [
      resolve({ browser: true }),
      // Its own tsconfig: browser code, compiled apart from the SDK's entries.
      typescript({ tsconfig: './src/collect/dashboard/tsconfig.json', outDir: undefined, rootDir: undefined, noEmitOnError: false }),
      min(),
      copyDashboard(),
    ],
    output: { file: 'dist/collect/dashboard/dashboard.js', format: 'es' },
    onwarn,
  },
];
