// Tests of the page served from a sub-path, as on GitHub Pages, and of its
// service worker: the CPU worker trains from /gatelab/, and after one visit
// the page starts and trains with the network gone. Run by `cargo xtask e2e`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { launchBrowser, startServer, withPage } from './harness.js';
import {
  LOAD_TIMEOUT_MS,
  openPlayground,
  play,
  SELECTORS,
  TEST_TIMEOUT_MS,
  TINY_CONFIG,
} from './playground.js';

const SUB_PATH = '/gatelab/';

/** Waits until a service worker controls the page, and returns its script URL. */
async function waitForServiceWorker(page) {
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: LOAD_TIMEOUT_MS });
  return page.evaluate(() => navigator.serviceWorker.controller.scriptURL);
}

describe('cpu profile', () => {
  const profile = 'cpu';
  let server;
  let browser;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('CPU fallback trains from sub-path', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    browser = await launchBrowser(profile);
    try {
      await withPage(t, browser, profile, async (page) => {
        await openPlayground(page, `${server.origin}${SUB_PATH}${TINY_CONFIG}`);
        await page.locator(SELECTORS.backendBadge).filter({ hasText: /^CPU/ }).waitFor({ timeout: LOAD_TIMEOUT_MS });
        await play(page);
        assert.equal(new URL(page.url()).pathname, SUB_PATH);
      });
    } finally {
      await browser.close();
      browser = undefined;
    }
  });

  test('page trains offline after one visit', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    // A fresh browser, so that no earlier visit filled its cache.
    browser = await launchBrowser(profile);
    await withPage(t, browser, profile, async (page, record) => {
      const url = `${server.origin}${SUB_PATH}${TINY_CONFIG}`;
      await openPlayground(page, url);
      const script = await waitForServiceWorker(page);
      t.diagnostic(`service worker: ${script}`);
      assert.equal(new URL(script).pathname, `${SUB_PATH}sw.js`);
      const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
      assert.equal(new URL(scope).pathname, SUB_PATH);
      const online = record.requests;

      // Take the network away twice over: the browser's offline mode, and
      // no server at all, so that only the cache can answer.
      await server.close();
      server = undefined;
      await browser.context.setOffline(true);
      try {
        await page.reload({ timeout: LOAD_TIMEOUT_MS });
        await page.locator(SELECTORS.play).waitFor({ timeout: LOAD_TIMEOUT_MS });
        await page.locator(SELECTORS.backendBadge).filter({ hasText: /^CPU/ }).waitFor({ timeout: LOAD_TIMEOUT_MS });
        await play(page);
        assert.equal(await page.evaluate(() => navigator.onLine), false);
      } finally {
        await browser.context.setOffline(false);
      }
      t.diagnostic(`${online} requests online, ${record.requests - online} offline`);
    });
  });

  test('new build replaces old cache', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    server = await startServer();
    browser ??= await launchBrowser(profile);
    await withPage(t, browser, profile, async (page) => {
      await openPlayground(page, `${server.origin}${SUB_PATH}${TINY_CONFIG}`);
      await waitForServiceWorker(page);
      const first = await page.evaluate(() => caches.keys());
      assert.equal(first.length, 1, `expected one cache, got ${first.join(', ')}`);
      assert.match(first[0], /^gatelab-shell-[0-9a-f]{8}$/);

      // A new build registers the worker under a new build ID. The page's
      // controller changes before the new worker's activate handler runs,
      // so the check waits for the worker to reach the state `activated`.
      const names = await page.evaluate(async () => {
        const registration = await navigator.serviceWorker.register('./sw.js?build=nextbuild');
        const worker = registration.installing ?? registration.waiting ?? registration.active;
        if (worker.state !== 'activated') {
          await new Promise((resolve) => {
            worker.addEventListener('statechange', () => worker.state === 'activated' && resolve());
          });
        }
        return caches.keys();
      });
      assert.deepEqual(names, ['gatelab-shell-nextbuild']);
    });
  });
});
