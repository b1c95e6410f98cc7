// Tests of the training playground through its `data-testid` attributes:
// play, step-counter, f-attn (one per run), backend-badge and
// variant-select (run A, then run B). Run by `cargo xtask e2e`.
//
// NOTE: `cargo xtask test` does not run this file yet, because the page that
// provides these attributes is still being built. Add it to PAGE_TESTS in
// xtask/src/browser.rs once it lands.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { launchBrowser, startServer, withPage } from './harness.js';

/**
 * A model small enough to train visibly on SwiftShader, which takes about
 * 1 ms per dispatch, and on the CPU engine.
 */
const TINY_CONFIG = '?width=16&seq_len=16&batch=4&layers=1&heads=1';

const LOAD_TIMEOUT_MS = 30_000;
/** Upper bound on the training that one check waits for. */
const TRAIN_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 240_000;

/** Steps that count as the runs training, not one stray update. */
const STEPS_TO_SEE = 20;

const SELECTORS = {
  play: '[data-testid="play"]',
  stepCounter: '[data-testid="step-counter"]',
  fAttn: '[data-testid="f-attn"]',
  backendBadge: '[data-testid="backend-badge"]',
  variantSelect: '[data-testid="variant-select"]',
  // `loss` is one per run, the latest training loss as text; `attention-cell`
  // names the small attention heatmap canvases, one per (layer, head).
  loss: '[data-testid="loss"]',
  heatmap: 'canvas[data-testid="attention-cell"]',
  urlError: '[data-testid="url-error"]',
};

/** Returns the first number in each element's text, in document order. */
async function readNumbers(page, selector) {
  const texts = await page.locator(selector).allInnerTexts();
  return texts.map((text) => {
    const match = text.replace(/,/g, '').match(/-?\d+(\.\d+)?(e-?\d+)?/i);
    return match ? Number(match[0]) : NaN;
  });
}

/** Waits until `predicate` holds for the numbers of every element of `selector`. */
async function waitForNumbers(page, selector, predicate, condition) {
  const deadline = Date.now() + TRAIN_TIMEOUT_MS;
  let numbers = [];
  while (Date.now() < deadline) {
    numbers = await readNumbers(page, selector);
    if (numbers.length > 0 && numbers.every((value, index) => predicate(value, index))) {
      return numbers;
    }
    await page.waitForTimeout(200);
  }
  assert.fail(`timed out after ${TRAIN_TIMEOUT_MS} ms waiting for ${condition}; last values of ${selector}: ${numbers.join(', ')}`);
}

async function openTinyPage(page, origin) {
  await page.goto(`${origin}/${TINY_CONFIG}`, { timeout: LOAD_TIMEOUT_MS });
  await page.locator(SELECTORS.play).waitFor({ timeout: LOAD_TIMEOUT_MS });
  assert.equal(await page.locator(SELECTORS.urlError).count(), 0, 'the page rejected the tiny configuration');
}

async function play(page) {
  const before = await readNumbers(page, SELECTORS.stepCounter);
  await page.locator(SELECTORS.play).click();
  return waitForNumbers(
    page,
    SELECTORS.stepCounter,
    (step, index) => step >= (before[index] ?? 0) + STEPS_TO_SEE,
    `${STEPS_TO_SEE} steps after play`,
  );
}

/**
 * Returns the number of distinct colours in a canvas, copied through a 2D
 * canvas so that this works whatever context drew it.
 */
async function countColours(page, selector) {
  return page.locator(selector).first().evaluate((canvas) => {
    const copy = document.createElement('canvas');
    copy.width = canvas.width;
    copy.height = canvas.height;
    const context = copy.getContext('2d');
    context.drawImage(canvas, 0, 0);
    const pixels = new Uint32Array(context.getImageData(0, 0, copy.width, copy.height).data.buffer);
    return new Set(pixels).size;
  });
}

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.close();
});

describe('webgpu profile', () => {
  const profile = 'webgpu';
  let browser;
  before(async () => {
    browser = await launchBrowser(profile);
  });
  after(async () => {
    await browser?.close();
  });

  test('play advances step counter', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openTinyPage(page, server.origin);
      await page.locator(SELECTORS.backendBadge).filter({ hasText: /WebGPU/i }).waitFor({ timeout: LOAD_TIMEOUT_MS });
      await play(page);

      const fAttn = await readNumbers(page, SELECTORS.fAttn);
      assert.equal(fAttn.length, 2, 'expected one F-Attn per run');
      for (const value of fAttn) {
        assert.ok(value >= 0 && value <= 1, `F-Attn ${value} is outside [0, 1]`);
      }
    });
  });

  test('loss falls', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openTinyPage(page, server.origin);
      await play(page);
      const first = await waitForNumbers(page, SELECTORS.loss, Number.isFinite, 'a finite loss');
      t.diagnostic(`loss after ${STEPS_TO_SEE} steps: ${first.join(', ')}`);
      const last = await waitForNumbers(
        page,
        SELECTORS.loss,
        (loss, index) => loss < 0.8 * first[index],
        'the loss to fall by 20 %',
      );
      t.diagnostic(`loss later: ${last.join(', ')}`);
    });
  });

  test('heatmap canvas is painted', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openTinyPage(page, server.origin);
      await play(page);
      // A flat fill or a frame around an empty plot has a few colours; a
      // heatmap of 16 x 16 attention weights has many.
      const minColours = 8;
      await page.waitForFunction(
        ([selector, min]) => {
          const canvas = document.querySelector(selector);
          if (!canvas || canvas.width === 0 || canvas.height === 0) {
            return false;
          }
          const copy = document.createElement('canvas');
          copy.width = canvas.width;
          copy.height = canvas.height;
          const context = copy.getContext('2d');
          context.drawImage(canvas, 0, 0);
          const pixels = new Uint32Array(context.getImageData(0, 0, copy.width, copy.height).data.buffer);
          return new Set(pixels).size >= min;
        },
        [SELECTORS.heatmap, minColours],
        { timeout: TRAIN_TIMEOUT_MS, polling: 500 },
      );
      t.diagnostic(`heatmap colours: ${await countColours(page, SELECTORS.heatmap)}`);
    });
  });

  test('run B variant restarts both runs', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openTinyPage(page, server.origin);
      const trained = await play(page);

      const selects = page.locator(SELECTORS.variantSelect);
      assert.equal(await selects.count(), 2, 'expected one variant select per run');
      const runB = selects.nth(1);
      const current = await runB.inputValue();
      const options = await runB.locator('option').evaluateAll((nodes) => nodes.map((node) => node.value));
      const other = options.find((value) => value !== current);
      assert.ok(other, `run B's select offers no variant besides ${current}`);
      await runB.selectOption(other);

      await waitForNumbers(
        page,
        SELECTORS.stepCounter,
        (step, index) => step < trained[index],
        'the step counter to drop back after the variant changed',
      );
      assert.equal(await runB.inputValue(), other);

      // Settings round-trip through the URL: a reload keeps the variant.
      await page.waitForFunction((variant) => location.search.includes(variant), other, {
        timeout: LOAD_TIMEOUT_MS,
      });
      await page.reload({ timeout: LOAD_TIMEOUT_MS });
      await page.locator(SELECTORS.play).waitFor({ timeout: LOAD_TIMEOUT_MS });
      assert.equal(await page.locator(SELECTORS.variantSelect).nth(1).inputValue(), other);
    });
  });
});

describe('cpu profile', () => {
  const profile = 'cpu';
  let browser;
  before(async () => {
    browser = await launchBrowser(profile);
  });
  after(async () => {
    await browser?.close();
  });

  test('CPU fallback trains', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openTinyPage(page, server.origin);
      const badge = page.locator(SELECTORS.backendBadge);
      await badge.filter({ hasText: /CPU/i }).waitFor({ timeout: LOAD_TIMEOUT_MS });
      // The badge names the CPU first; the reason after it may mention WebGPU.
      assert.match(await badge.innerText(), /^CPU/);
      await play(page);
    });
  });
});
