// Tests of the knob selects under each run's variant select, the speed
// read-outs, and the Japanese page (its screenshot is saved to artifacts/).
// Run by `cargo xtask e2e`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { launchBrowser, startServer, withPage } from './harness.js';
import {
  LOAD_TIMEOUT_MS,
  openPlayground,
  play,
  readNumbers,
  SELECTORS,
  TEST_TIMEOUT_MS,
  TINY_CONFIG,
  waitForNumbers,
} from './playground.js';

/** Returns the knob select `key` of run `index` (0 for A, 1 for B). */
function knob(page, index, key) {
  return page.locator(SELECTORS.variantKnobs).nth(index).locator(`[data-testid="knob-${key}"]`);
}

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.close();
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

  test('knobs on run B restart training', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openPlayground(page, `${server.origin}/${TINY_CONFIG}`);
      const trained = await play(page);
      // Paused, the restarted runs stay at step 0, so the check below cannot
      // miss the drop while the tiny model races back past `trained`.
      await page.locator(SELECTORS.play).click();
      // The page re-renders after the click returns, so wait for the state.
      await page.locator(`${SELECTORS.play}[aria-pressed="false"]`).waitFor({ timeout: LOAD_TIMEOUT_MS });

      await page.locator(SELECTORS.variantKnobs).nth(1).locator('summary').click();
      assert.equal(await knob(page, 1, 'gate').inputValue(), 'g1');
      await knob(page, 1, 'activation').selectOption('silu');
      await knob(page, 1, 'granularity').selectOption('headwise');

      await waitForNumbers(
        page,
        SELECTORS.stepCounter,
        (step, index) => step < trained[index],
        'the step counter to drop back after the knobs changed',
      );
      const variant = 'g1+headwise+silu';
      assert.equal(await page.locator(SELECTORS.variantSelect).nth(1).inputValue(), variant);
      await page.waitForFunction((name) => new URLSearchParams(location.search).get('b') === name, variant, {
        timeout: LOAD_TIMEOUT_MS,
      });
      assert.match(page.url(), /[?&]b=g1%2Bheadwise%2Bsilu(&|$)/);
      assert.match(page.url(), /[?&]a=baseline(&|$)/);

      // G5 mixes the heads, so headwise gates are not offered there.
      const g5 = knob(page, 1, 'gate').locator('option[value="g5"]');
      assert.equal(await g5.isDisabled(), true, 'G5 is offered for a headwise gate');
      assert.match(await g5.innerText(), /G5/);
      assert.match(await g5.innerText(), /\(.+\)/, 'the disabled G5 option gives no reason');

      // Run A has no gate, so its gate knobs are disabled with a reason.
      await page.locator(SELECTORS.variantKnobs).nth(0).locator('summary').click();
      assert.equal(await knob(page, 0, 'form').isDisabled(), true);
      assert.equal(await knob(page, 0, 'normaliser').isDisabled(), false);
      assert.ok((await page.locator(SELECTORS.variantKnobs).nth(0).innerText()).includes('G1'));

      // The link reproduces the variant.
      await page.reload({ timeout: LOAD_TIMEOUT_MS });
      await page.locator(SELECTORS.play).waitFor({ timeout: LOAD_TIMEOUT_MS });
      assert.equal(await page.locator(SELECTORS.variantSelect).nth(1).inputValue(), variant);
      assert.equal(await knob(page, 1, 'granularity').inputValue(), 'headwise');
      assert.equal(await knob(page, 1, 'activation').inputValue(), 'silu');
    });
  });

  test('gate none resets gate knobs', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openPlayground(page, `${server.origin}/${TINY_CONFIG}&b=g3%2Badditive%2Bsoftmax1`);
      await page.locator(SELECTORS.variantKnobs).nth(1).locator('summary').click();
      assert.equal(await knob(page, 1, 'form').inputValue(), 'additive');
      await knob(page, 1, 'gate').selectOption('none');
      await page.waitForFunction(() => new URLSearchParams(location.search).get('b') === 'softmax1', null, {
        timeout: LOAD_TIMEOUT_MS,
      });
      assert.equal(await knob(page, 1, 'form').inputValue(), 'multiplicative');
      assert.equal(await knob(page, 1, 'form').isDisabled(), true);
    });
  });

  test('speed shown per run and in total', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openPlayground(page, `${server.origin}/${TINY_CONFIG}`);
      await play(page);
      const perRun = await waitForNumbers(page, SELECTORS.speed, (rate) => rate > 0, 'a speed per run');
      const [total] = await waitForNumbers(page, SELECTORS.speedTotal, (rate) => rate > 0, 'a total speed');
      t.diagnostic(`steps/s per run ${perRun.join(', ')}, both runs ${total}`);
      assert.equal(perRun.length, 2);
      // Tokens per step of the tiny model: batch 4 x sequence length 16.
      const text = await page.locator(SELECTORS.speedTotal).innerText();
      const [steps, tokens] = text.replace(/,/g, '').match(/\d+(\.\d+)?/g).map(Number);
      assert.ok(Math.abs(tokens - steps * 64) <= 64, `tokens/s ${tokens} is not 64 x steps/s ${steps}`);
    });
  });

  test('Japanese page screenshot', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openPlayground(page, `${server.origin}/?layers=2&heads=2&width=16&seq_len=16&batch=4&b=g1-silu`);
      await page.locator('.language-switch button[lang="ja"]').click();
      await page.locator('html[lang="ja"]').waitFor({ timeout: LOAD_TIMEOUT_MS });
      await play(page);
      await page.locator(SELECTORS.play).click();
      for (const index of [0, 1]) {
        await page.locator(SELECTORS.variantKnobs).nth(index).locator('summary').click();
      }
      const text = await page.locator('body').innerText();
      assert.ok(text.includes('ゲートの位置'), 'the knob labels are not in Japanese');
      // withPage saves the screenshot while the page is still in Japanese.
    });
  });
});
