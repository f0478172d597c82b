#!/usr/bin/env node
// Static server for the demo and the browser tests: sirv over the package root, bound to 127.0.0.1.
// Usage: node scripts/serve.mjs [--port 4173]
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_PORT = Number(process.env.ATTNFLOW_PORT || 4173);

/** Starts the server; resolves with its base URL and a close function. */
export function startServer({ port = DEFAULT_PORT, host = '127.0.0.1' } = {}) {
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
    files(req, res, () => {
      res.statusCode = 404;
      res.end('not found');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve({ url: `http://${host}:${port}/`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : DEFAULT_PORT;
  const { url } = await startServer({ port });
  console.log(`attnflow: serving ${ROOT} at ${url}`);
}
