// Drives the playground with the keyboard alone and reads what a screen
// reader gets: focus order and ring, Space on play, arrow keys on the
// attention grid and on the zoomed heatmap, and the charts' text labels.
// Run by `cargo xtask e2e`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { launchBrowser, startServer, withPage } from './harness.js';
import { LOAD_TIMEOUT_MS, openPlayground, readNumbers, SELECTORS, TEST_TIMEOUT_MS, waitForSteps } from './playground.js';

/** Two layers of two heads, so that the attention grid has room to move. */
const GRID_CONFIG = '?width=16&seq_len=16&batch=4&layers=2&heads=2';
/** Upper bound on the Tab presses from the top of the page to any control. */
const MAX_TABS = 80;

/** Presses Tab until `matches(activeElement)` holds, and returns the presses. */
async function tabTo(page, description, matches) {
  for (let presses = 1; presses <= MAX_TABS; presses += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(matches)) {
      return presses;
    }
  }
  assert.fail(`${MAX_TABS} Tab presses did not reach ${description}`);
}

/** Returns the index of the pressed cell of run A's attention grid. */
async function pressedCell(page) {
  return page.evaluate(() => {
    const cells = [...document.querySelectorAll('[data-testid="attention-grid"]')[0].children];
    return cells.findIndex((cell) => cell.getAttribute('aria-pressed') === 'true');
  });
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

  test('keyboard alone trains and reads maps', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openPlayground(page, `${server.origin}/${GRID_CONFIG}`);
      await page.locator('[data-testid="attention-zoom"]').first().waitFor();

      const presses = await tabTo(page, 'the play button', () => document.activeElement?.dataset.testid === 'play');
      t.diagnostic(`play is ${presses} Tab presses from the top`);
      const ring = await page.evaluate(() => {
        const style = getComputedStyle(document.activeElement);
        return { style: style.outlineStyle, width: parseFloat(style.outlineWidth) };
      });
      assert.notEqual(ring.style, 'none', 'the focused play button has no focus ring');
      assert.ok(ring.width >= 2, `the focus ring is ${ring.width} px wide, expected at least 2`);

      const before = await readNumbers(page, SELECTORS.stepCounter);
      await page.keyboard.press('Space');
      await waitForSteps(page, before, 'steps after Space on play');
      await page.keyboard.press('Space');
      // The page re-renders after the key press returns, so wait for the state.
      await page.locator(`${SELECTORS.play}[aria-pressed="false"]`).waitFor({ timeout: LOAD_TIMEOUT_MS });

      // The grid of attention cells has one stop in the tab order.
      await tabTo(page, "run A's attention grid", () => document.activeElement?.classList.contains('cell'));
      assert.equal(await pressedCell(page), 0);
      await page.keyboard.press('ArrowRight');
      await page.waitForFunction(() => document.activeElement?.getAttribute('aria-pressed') === 'true');
      assert.equal(await pressedCell(page), 1);
      await page.keyboard.press('ArrowDown');
      await page.waitForFunction(() => document.activeElement?.getAttribute('aria-pressed') === 'true');
      assert.equal(await pressedCell(page), 3);
      assert.match(await page.locator('.run').first().innerText(), /2[^\n]*2[^\n]*:/, 'the zoom title does not name layer 2, head 2');

      // The zoomed map is one Tab further and reads cells aloud.
      await tabTo(page, "run A's zoomed map", () => document.activeElement?.dataset.testid === 'attention-zoom');
      const zoom = page.locator('[data-testid="attention-zoom"]').first();
      assert.equal(await zoom.getAttribute('role'), 'img');
      const label = await zoom.getAttribute('aria-label');
      t.diagnostic(`zoom label: ${label}`);
      assert.match(label, /16 × 16/);
      assert.match(label, /\d\.\d{3}/);
      const readout = page.locator('[data-testid="heatmap-readout"]').first();
      assert.equal(await readout.getAttribute('aria-live'), 'polite');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowRight');
      assert.match(await readout.innerText(), /query 1 .*key 1 .*: \d\.\d{3}$/);

      // Every chart canvas carries its numbers as text.
      const chartLabels = await page.locator('canvas[data-testid^="chart-"]').evaluateAll((canvases) =>
        canvases.map((canvas) => canvas.getAttribute('aria-label') ?? ''),
      );
      assert.ok(chartLabels.length >= 8, `expected four charts per run, got ${chartLabels.length}`);
      for (const text of chartLabels) {
        assert.match(text, /\d/, `chart label without a number: ${text}`);
      }
    });
  });
});
