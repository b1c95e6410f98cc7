// Shared set-up of the browser tests: a static server for dist/ on
// 127.0.0.1, Debian's Chromium in two profiles, and a page wrapper that
// records console errors and requests and saves a screenshot per test.

import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPOSITORY = path.resolve(HERE, '..');

/** The built page; `cargo xtask e2e` builds it with `trunk build --release`. */
export const DIST_DIR = process.env.GATELAB_DIST ?? path.join(REPOSITORY, 'dist');
const ARTIFACTS_DIR = path.join(REPOSITORY, 'artifacts');
/** Debian's Chromium; npm never downloads a browser for these tests. */
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Paths that dist/ is served at: the root, and a folder as on GitHub Pages. */
export const BASE_PATHS = ['/', '/gatelab/'];

const COMMON_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Browser profiles by name: `webgpu` offers WebGPU on SwiftShader, Chromium's
 * software Vulkan; `cpu` offers no WebGPU adapter, so the page must fall back
 * to its CPU engine.
 */
export const PROFILES = {
  webgpu: [...COMMON_ARGS, '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader'],
  cpu: COMMON_ARGS,
};

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Starts a server for `dir` on a free port of 127.0.0.1, at every path of
 * BASE_PATHS. Returns `{ origin, close }`.
 */
export async function startServer(dist = DIST_DIR) {
  // serveFile compares request paths with this folder, so it must be
  // normalised: with GATELAB_DIST=$PWD/../dist it would return 403 for every file.
  const dir = path.resolve(dist);
  const index = path.join(dir, 'index.html');
  if (!(await isFile(index))) {
    throw new Error(`${index} not found; build the page with \`cargo xtask e2e\` or \`trunk build --release\``);
  }

  const server = http.createServer((request, response) => {
    serveFile(dir, request, response).catch((error) => {
      console.error(`server: ${request.method} ${request.url} failed: ${error}`);
      if (!response.headersSent) {
        response.writeHead(500);
      }
      response.end();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function serveFile(dir, request, response) {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD' });
    response.end();
    return;
  }
  const pathname = decodeURIComponent(new URL(request.url, 'http://127.0.0.1').pathname);
  // A folder without its trailing slash would resolve relative asset URLs
  // against the parent, so redirect as static hosts do.
  const bare = BASE_PATHS.find((base) => base !== '/' && pathname === base.slice(0, -1));
  if (bare) {
    response.writeHead(301, { location: bare });
    response.end();
    return;
  }

  const base = BASE_PATHS.filter((candidate) => pathname.startsWith(candidate))
    .sort((a, b) => b.length - a.length)[0];
  const relative = pathname.slice(base.length);
  let file = path.resolve(dir, relative);
  if (file !== dir && !file.startsWith(dir + path.sep)) {
    response.writeHead(403);
    response.end();
    return;
  }
  if (!(await isFile(file))) {
    file = path.join(file, 'index.html');
  }
  if (!(await isFile(file))) {
    response.writeHead(404, { 'content-type': CONTENT_TYPES['.txt'] });
    response.end(`not found: ${pathname}\n`);
    return;
  }

  const body = await readFile(file);
  response.writeHead(200, {
    'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
    'content-length': body.length,
    'cache-control': 'no-store',
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

async function isFile(file) {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/**
 * Launches Chromium with the named profile and a new empty user data
 * folder. Returns `{ context, close }`.
 */
export async function launchBrowser(profile) {
  const args = PROFILES[profile];
  assert.ok(args, `unknown profile ${profile}; expected one of ${Object.keys(PROFILES).join(', ')}`);
  const userDataDir = await mkdtemp(path.join(tmpdir(), `gatelab-e2e-${profile}-`));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Returns whether a request stays on this machine's server. */
function isLocal(url) {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:') {
    return true;
  }
  return hostname === '127.0.0.1';
}

/**
 * Opens a page in `browser`, runs `body(page, record)` on it, saves a
 * screenshot to artifacts/, and fails the test when the page logged a
 * console error, threw an uncaught exception, or sent a request anywhere
 * but 127.0.0.1. Requests to other hosts are aborted before they leave.
 *
 * `record` contains `consoleErrors`, `foreignRequests`, `failedResponses`
 * (HTTP status 400 or more) and `cspViolations` as lists of strings, and
 * `requests`, a count.
 */
export async function withPage(t, browser, profile, body) {
  const record = { consoleErrors: [], foreignRequests: [], failedResponses: [], cspViolations: [], requests: 0 };
  const { context } = browser;
  // Routes and request events of the context, not the page, so that they
  // include requests from the page's workers.
  const isForeign = (url) => !isLocal(url.href);
  const blockForeign = (route) => {
    record.foreignRequests.push(route.request().url());
    return route.abort('blockedbyclient');
  };
  const countRequest = () => {
    record.requests += 1;
  };
  const checkResponse = (response) => {
    if (response.status() >= 400) {
      record.failedResponses.push(`${response.status()} ${response.url()}`);
    }
  };
  await context.route(isForeign, blockForeign);
  context.on('request', countRequest);
  context.on('response', checkResponse);

  const page = await context.newPage();
  // Content-Security-Policy violations reach the page as events; report each.
  await page.exposeFunction('__gatelabCspViolation', (text) => record.cspViolations.push(text));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__gatelabCspViolation(`${event.violatedDirective}: ${event.blockedURI}`);
    });
  });
  page.on('console', (message) => {
    if (message.type() === 'error') {
      record.consoleErrors.push(`${message.text()} (${message.location().url})`);
    }
  });
  page.on('pageerror', (error) => record.consoleErrors.push(`uncaught: ${error.message}`));

  try {
    await body(page, record);
  } finally {
    await saveScreenshot(t, page, profile);
    await page.close();
    context.off('request', countRequest);
    context.off('response', checkResponse);
    await context.unroute(isForeign, blockForeign);
  }
  assert.deepEqual(record.foreignRequests, [], 'requests left 127.0.0.1');
  assert.deepEqual(record.consoleErrors, [], 'the page logged console errors');
  assert.deepEqual(record.cspViolations, [], 'the page violated its Content-Security-Policy');
  assert.deepEqual(record.failedResponses, [], 'requests failed');
  t.diagnostic(`${record.requests} requests, all to 127.0.0.1`);
}

async function saveScreenshot(t, page, profile) {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const name = `${profile}-${t.name}`.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-|-$/g, '');
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  try {
    await page.screenshot({ path: file, fullPage: true });
    t.diagnostic(`screenshot: ${path.relative(REPOSITORY, file)}`);
  } catch (error) {
    // A crashed page has nothing to show; the test's own failure says why.
    t.diagnostic(`screenshot failed: ${error.message}`);
  }
}

/** Returns whether the page's `navigator.gpu` offers an adapter. */
export async function hasWebGpuAdapter(page) {
  return page.evaluate(async () => {
    if (!navigator.gpu) {
      return false;
    }
    return (await navigator.gpu.requestAdapter()) !== null;
  });
}
