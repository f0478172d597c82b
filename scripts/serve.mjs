#!/usr/bin/env node
// Static server for the demo and the browser tests: sirv over the package root, bound to 127.0.0.1.
// With `collect`, the demo pages' script tag also gets the private reports' attributes, as a site
// that runs attnflow-collect would write them (`data-collect-url`, `data-collect-epsilon`, `data-holdout`),
// and with `collect.model` the site model the collector trains in federated rounds (`data-model-url`).
// Usage: node scripts/serve.mjs [--port 4173]
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_PORT = Number(process.env.ATTNFLOW_PORT || 4173);

/** The script tag of the demo pages, as they are written. */
const TAG = '<script async src="../dist/attnflow.js"';

/**
 * Starts the server; resolves with its base URL and a close function. `collect`: `{ url, epsilon, holdout, model? }`
 * for the demo pages (examples/*.html); port 0 picks a free port.
 */
export function startServer({ port = DEFAULT_PORT, host = '127.0.0.1', collect } = {}) {
  const attrs = collect
    ? ` data-collect-url="${collect.url}" data-collect-epsilon="${collect.epsilon ?? 1}" data-holdout="${collect.holdout ?? 0}"` +
      (collect.model ? ` data-model-url="${collect.model}"` : '')
    : '';
  const files = sirv(ROOT, {
    dev: true,
    dotfiles: false,
    setHeaders(res, pathname) {
      // Fixture pages named *.csp.html are served under a strict Content Security Policy.
      if (pathname.endsWith('.csp.html')) {
        res.setHeader(
          'Content-Security-Policy',
          "default-src 'self'; script-src 'self'; worker-src 'self' blob:; style-src 'self'; require-trusted-types-for 'script'",
        );
      }
    },
  });
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split(/[?#]/)[0];
    if (collect && /^\/examples\/([\w-]+\.html)?$/.test(path)) {
      readFile(join(ROOT, path.endsWith('/') ? `${path}index.html` : path), 'utf8').then(
        (html) =>
          res
            .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
            .end(html.replace(TAG, TAG + attrs)),
        () => res.writeHead(404).end('not found'),
      );
      return;
    }
    files(req, res, () => {
      res.statusCode = 404;
      res.end('not found');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve({ url: `http://${host}:${server.address().port}/`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : DEFAULT_PORT;
  const { url } = await startServer({ port });
  console.log(`attnflow: serving ${ROOT} at ${url}`);
}
