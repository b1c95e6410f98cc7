// Tests of the page that hold whatever it shows: it loads cleanly at the
// root and in a sub-folder, in both browser profiles, and the language switch
// works. Run by `cargo xtask test` and `cargo xtask e2e`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { BASE_PATHS, hasWebGpuAdapter, launchBrowser, PROFILES, startServer, withPage } from './harness.js';

/** Upper bound on loading the page and starting its WebAssembly. */
const LOAD_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 60_000;

/** Hiragana, katakana and CJK ideographs. */
const JAPANESE = /[\u3040-\u30ff\u4e00-\u9fff]/g;

/** Opens `url` and waits until the app has rendered its language switch. */
async function openPage(page, url) {
  await page.goto(url, { timeout: LOAD_TIMEOUT_MS });
  await page.locator('.language-switch button').first().waitFor({ timeout: LOAD_TIMEOUT_MS });
  // Best effort: the service worker may still be caching the app, which
  // can keep the network busy past the timeout on a slow machine.
  await page.waitForLoadState('networkidle', { timeout: LOAD_TIMEOUT_MS }).catch(() => {});
}

async function countJapanese(page) {
  const text = await page.locator('body').innerText();
  return (text.match(JAPANESE) ?? []).length;
}

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.close();
});

for (const profile of Object.keys(PROFILES)) {
  describe(`${profile} profile`, () => {
    let browser;
    before(async () => {
      browser = await launchBrowser(profile);
    });
    after(async () => {
      await browser?.close();
    });

    test('WebGPU adapter matches profile', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      await withPage(t, browser, profile, async (page) => {
        await openPage(page, `${server.origin}/`);
        assert.equal(await hasWebGpuAdapter(page), profile === 'webgpu');
      });
    });

    for (const base of BASE_PATHS) {
      test(`page loads at ${base}`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
        await withPage(t, browser, profile, async (page, record) => {
          await openPage(page, `${server.origin}${base}`);
          assert.equal(new URL(page.url()).pathname, base);
          assert.ok(record.requests > 1, `expected the page and its assets, got ${record.requests} requests`);
          // withPage then checks for console errors and failed requests.
        });
      });
    }

    test('language switch shows Japanese', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      await withPage(t, browser, profile, async (page) => {
        await openPage(page, `${server.origin}/`);
        const english = page.locator('.language-switch button[lang="en"]');
        const japanese = page.locator('.language-switch button[lang="ja"]');
        // The Japanese button's own label may be in Japanese, so the check
        // counts Japanese characters rather than looking for any.
        const before = await countJapanese(page);

        await japanese.click();
        await page.waitForFunction(
          ([pattern, floor]) => (document.body.innerText.match(new RegExp(pattern, 'g')) ?? []).length > floor,
          [JAPANESE.source, before + 20],
          { timeout: LOAD_TIMEOUT_MS },
        );
        assert.equal(await japanese.getAttribute('aria-pressed'), 'true');

        await english.click();
        await page.waitForFunction(
          ([pattern, count]) => (document.body.innerText.match(new RegExp(pattern, 'g')) ?? []).length === count,
          [JAPANESE.source, before],
          { timeout: LOAD_TIMEOUT_MS },
        );
        assert.equal(await english.getAttribute('aria-pressed'), 'true');
      });
    });
  });
}
