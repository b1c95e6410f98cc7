// Tests of the page under faults: a diverging run, panics in the page and in
// a worker, a lost WebGPU device, and the Content-Security-Policy. The fault
// tests use the dist-test/ build, whose `window.gatelabTestHooks` break the
// page on purpose (src/test_hooks.rs); the policy tests use dist/, the build
// that is deployed. Run by `cargo xtask e2e`, which builds both.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser, startServer, withPage } from './harness.js';

const REPOSITORY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TEST_DIST = process.env.GATELAB_TEST_DIST ?? path.join(REPOSITORY, 'dist-test');

/** A model small enough to train visibly on SwiftShader and on the CPU. */
const TINY_CONFIG = '?width=16&seq_len=16&batch=4&layers=1&heads=1';

const LOAD_TIMEOUT_MS = 30_000;
const WAIT_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 240_000;

const SELECTORS = {
  play: '[data-testid="play"]',
  stepCounter: '[data-testid="step-counter"]',
  fAttn: '[data-testid="f-attn"]',
  backendBadge: '[data-testid="backend-badge"]',
  lossChart: 'canvas[data-testid="chart-loss"]',
  diverged: '[data-testid="diverged"]',
  deviceLost: '[data-testid="device-lost"]',
  fatalError: '[data-testid="fatal-error"]',
  fatalDetail: '[data-testid="fatal-detail"]',
  fatalReset: '[data-testid="fatal-reset"]',
};

/** Returns the step of the step counter ("Step 40 / 1500"). */
async function readStep(page) {
  const text = await page.locator(SELECTORS.stepCounter).innerText();
  const match = text.match(/\d+/);
  return match ? Number(match[0]) : NaN;
}

async function waitForStep(page, predicate, condition) {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  let step = NaN;
  while (Date.now() < deadline) {
    step = await readStep(page);
    if (predicate(step)) {
      return step;
    }
    await page.waitForTimeout(200);
  }
  assert.fail(`timed out after ${WAIT_TIMEOUT_MS} ms waiting for ${condition}; last step ${step}`);
}

async function openAndPlay(page, origin, minStep) {
  await page.goto(`${origin}/${TINY_CONFIG}`, { timeout: LOAD_TIMEOUT_MS });
  await page.locator(SELECTORS.play).waitFor({ timeout: LOAD_TIMEOUT_MS });
  await page.locator(SELECTORS.play).click();
  return waitForStep(page, (step) => step >= minStep, `step ${minStep}`);
}

/** Drops the console errors that a test caused on purpose. */
function allowErrors(record, pattern) {
  const unexpected = record.consoleErrors.filter((error) => !pattern.test(error));
  record.consoleErrors.splice(0, record.consoleErrors.length, ...unexpected);
}

/** Asserts that the page has a Content-Security-Policy without unsafe sources. */
async function checkPolicy(page) {
  const policy = await page.evaluate(
    () => document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content ?? '',
  );
  assert.match(policy, /script-src 'self' 'wasm-unsafe-eval' 'sha256-/);
  assert.match(policy, /worker-src 'self'/);
  assert.doesNotMatch(policy, /'unsafe-inline'/);
  assert.doesNotMatch(policy, /'unsafe-eval'/);
}

for (const profile of ['webgpu', 'cpu']) {
  describe(`${profile} profile, deployed build`, () => {
    let server;
    let browser;
    before(async () => {
      server = await startServer();
      browser = await launchBrowser(profile);
    });
    after(async () => {
      await browser?.close();
      await server?.close();
    });

    // withPage fails the test on any console error, which includes every CSP
    // violation report, and on any `securitypolicyviolation` event.
    test('trains under the CSP', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      await withPage(t, browser, profile, async (page, record) => {
        await openAndPlay(page, server.origin, 20);
        await checkPolicy(page);
        const badge = await page.locator(SELECTORS.backendBadge).innerText();
        assert.match(badge, profile === 'webgpu' ? /WebGPU/ : /^CPU/);
        assert.deepEqual(record.cspViolations, [], 'the page violated its Content-Security-Policy');
      });
    });
  });
}

describe('cpu profile, test-hook build', () => {
  const profile = 'cpu';
  let server;
  let browser;
  before(async () => {
    server = await startServer(TEST_DIST);
    browser = await launchBrowser(profile);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('divergence pauses and keeps history', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openAndPlay(page, server.origin, 20);
      await page.evaluate(() => window.gatelabTestHooks.poisonRun(0));

      const notice = page.locator(SELECTORS.diverged);
      await notice.waitFor({ timeout: WAIT_TIMEOUT_MS });
      const text = await notice.innerText();
      t.diagnostic(text);
      assert.match(text, /Run A diverged at step \d+: the loss became NaN/);
      assert.match(text, /Lower the learning rate/);
      assert.equal(await page.locator(SELECTORS.play).getAttribute('aria-pressed'), 'false', 'training is not paused');

      // The charts still show the steps before the divergence.
      assert.equal(await page.locator(SELECTORS.lossChart).count(), 2, 'a loss chart is missing');
      const fAttn = await page.locator(SELECTORS.fAttn).first().innerText();
      assert.ok(Number.isFinite(Number(fAttn)), `run A's F-Attn read-out is ${fAttn}`);
      const step = await readStep(page);
      await page.waitForTimeout(1_000);
      assert.equal(await readStep(page), step, 'the step counter moved while paused');
    });
  });

  test('worker panic reaches the page', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page, record) => {
      await openAndPlay(page, server.origin, 10);
      await page.evaluate(() => window.gatelabTestHooks.panicWorker(1));
      const notice = page.locator('[role="alert"]', { hasText: 'internal error' });
      await notice.waitFor({ timeout: WAIT_TIMEOUT_MS });
      assert.match(await notice.innerText(), /Run B stopped: .*test hook: worker panic requested/);
      assert.equal(await page.locator(SELECTORS.fatalError).count(), 0, 'a worker panic must not stop the page');
      // In Japanese the notice is translated, and the panic message stays as it was.
      await page.locator('.language-switch button[lang="ja"]').click();
      const japanese = page.locator('[role="alert"]', { hasText: '内部エラー' });
      await japanese.waitFor({ timeout: WAIT_TIMEOUT_MS });
      const text = await japanese.innerText();
      assert.match(text, /が停止しました.*CPU エンジンが内部エラーで停止しました: test hook: worker panic requested/);
      assert.doesNotMatch(text, /internal error|stopped/, 'English left in the Japanese notice');
      // After the panic, gloo-worker's state inside the dead worker stays
      // borrowed, so each later message to it logs "RefCell already borrowed"
      // until the page replaces the worker.
      allowErrors(record, /test hook: worker panic requested|unreachable|RefCell already borrowed/);
    });
  });

  test('page panic shows error view', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page, record) => {
      await openAndPlay(page, server.origin, 10);
      await page.evaluate(() => window.gatelabTestHooks.panicPage());

      await page.locator(SELECTORS.fatalError).waitFor({ timeout: WAIT_TIMEOUT_MS });
      assert.match(await page.locator(SELECTORS.fatalDetail).innerText(), /test hook: page panic requested/);
      assert.equal(await page.locator(SELECTORS.play).isVisible(), false, 'the frozen app is still shown');
      const href = await page.locator(SELECTORS.fatalReset).getAttribute('href');
      assert.ok(!href.includes('?'), `the reset link ${href} keeps the settings`);

      await page.locator(SELECTORS.fatalReset).click();
      await page.locator(SELECTORS.play).waitFor({ timeout: LOAD_TIMEOUT_MS });
      // The page writes its settings into the address once it loads, so
      // the reset shows in the values: the defaults, not the tiny model.
      const search = await page.evaluate(() => location.search);
      assert.match(search, /width=64/, `after the reset the address is ${search}`);
      assert.doesNotMatch(search, /width=16/, `after the reset the address is ${search}`);
      assert.equal(await page.locator(SELECTORS.fatalError).count(), 0);
      allowErrors(record, /test hook: page panic requested|unreachable/);
    });
  });
});

describe('webgpu profile, test-hook build', () => {
  const profile = 'webgpu';
  let server;
  let browser;
  before(async () => {
    server = await startServer(TEST_DIST);
    browser = await launchBrowser(profile);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('device loss resumes training', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page, record) => {
      await page.goto(`${server.origin}/${TINY_CONFIG}`, { timeout: LOAD_TIMEOUT_MS });
      await page.locator(SELECTORS.backendBadge).filter({ hasText: /WebGPU/ }).waitFor({ timeout: LOAD_TIMEOUT_MS });
      await page.locator(SELECTORS.play).click();
      // Metrics, and with them the CPU copy, are taken every 10 steps.
      const stepAtLoss = await waitForStep(page, (step) => step >= 30, 'step 30');

      await page.evaluate(() => window.gatelabTestHooks.destroyDevice());
      const notice = page.locator(SELECTORS.deviceLost);
      await notice.waitFor({ timeout: WAIT_TIMEOUT_MS });
      const text = await notice.innerText();
      t.diagnostic(text);
      const resumedFrom = Number(text.match(/step (\d+)/)[1]);
      assert.ok(resumedFrom >= 10, `resumed from step ${resumedFrom}, not from a CPU copy`);

      const stepNow = await waitForStep(page, (step) => step >= stepAtLoss + 20, `step ${stepAtLoss + 20} after the loss`);
      t.diagnostic(`step ${stepAtLoss} at the loss, resumed from ${resumedFrom}, now ${stepNow}`);
      assert.match(await page.locator(SELECTORS.backendBadge).innerText(), /WebGPU/);
      // Chromium reports work on the destroyed device as console errors.
      allowErrors(record, /destroy|lost|Device/i);
    });
  });
});
