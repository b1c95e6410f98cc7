// Helpers shared by the playground's browser tests: read numbers from the
// page, wait for training, and open the page with a model small enough to
// train visibly on SwiftShader and on the CPU engine.

import assert from 'node:assert/strict';

/** A model small enough to train visibly on every engine. */
export const TINY_CONFIG = '?width=16&seq_len=16&batch=4&layers=1&heads=1';

export const LOAD_TIMEOUT_MS = 30_000;
/** Upper bound on the training that one check waits for. */
export const TRAIN_TIMEOUT_MS = 120_000;
export const TEST_TIMEOUT_MS = 240_000;

/** Steps that count as the runs training, not one stray update. */
export const STEPS_TO_SEE = 20;

export const SELECTORS = {
  play: '[data-testid="play"]',
  stepCounter: '[data-testid="step-counter"]',
  backendBadge: '[data-testid="backend-badge"]',
  variantSelect: '[data-testid="variant-select"]',
  variantKnobs: '[data-testid="variant-knobs"]',
  speed: '[data-testid="speed"]',
  speedTotal: '[data-testid="speed-total"]',
  urlError: '[data-testid="url-error"]',
};

/** Returns the first number in each element's text, in document order. */
export async function readNumbers(page, selector) {
  const texts = await page.locator(selector).allInnerTexts();
  return texts.map((text) => {
    const match = text.replace(/,/g, '').match(/-?\d+(\.\d+)?(e-?\d+)?/i);
    return match ? Number(match[0]) : NaN;
  });
}

/** Waits until `predicate` holds for the numbers of every element of `selector`. */
export async function waitForNumbers(page, selector, predicate, condition, timeout = TRAIN_TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  let numbers = [];
  while (Date.now() < deadline) {
    numbers = await readNumbers(page, selector);
    if (numbers.length > 0 && numbers.every((value, index) => predicate(value, index))) {
      return numbers;
    }
    await page.waitForTimeout(200);
  }
  assert.fail(`timed out after ${timeout} ms waiting for ${condition}; last values of ${selector}: ${numbers.join(', ')}`);
}

/** Opens `url` and waits for the play button and for both runs to start. */
export async function openPlayground(page, url) {
  await page.goto(url, { timeout: LOAD_TIMEOUT_MS });
  await page.locator(SELECTORS.play).waitFor({ timeout: LOAD_TIMEOUT_MS });
  assert.equal(await page.locator(SELECTORS.urlError).count(), 0, `the page rejected a setting of ${url}`);
}

/** Waits until the step counter is `STEPS_TO_SEE` past `before`. */
export async function waitForSteps(page, before, condition = `${STEPS_TO_SEE} steps`) {
  return waitForNumbers(
    page,
    SELECTORS.stepCounter,
    (step, index) => step >= (before[index] ?? 0) + STEPS_TO_SEE,
    condition,
  );
}

/** Clicks play and waits for `STEPS_TO_SEE` steps. */
export async function play(page) {
  const before = await readNumbers(page, SELECTORS.stepCounter);
  await page.locator(SELECTORS.play).click();
  return waitForSteps(page, before, `${STEPS_TO_SEE} steps after play`);
}
