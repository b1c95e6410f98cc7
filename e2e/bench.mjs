// Measures the training speed of the page's default lesson in headless
// Chromium, in the `webgpu` (SwiftShader) and `cpu` profiles of harness.js.
// Not part of the test suite.
//
// Usage, after `trunk build --release`:
//   cd e2e && node bench.mjs [seconds] [profile...]
// Defaults: 60 seconds of training, both profiles. For each profile it
// prints the page's own speed read-outs (smoothed over the latest requests)
// and the mean steps/s of the step counter over the whole measurement.

import { launchBrowser, PROFILES, startServer, withPage } from './harness.js';
import { LOAD_TIMEOUT_MS, readNumbers, SELECTORS } from './playground.js';

const seconds = Number(process.argv[2] ?? 60);
const profiles = process.argv.slice(3).length > 0 ? process.argv.slice(3) : Object.keys(PROFILES);

/** Stands in for node:test's context, which withPage reports through. */
function reporter(name) {
  return { name: `bench-${name}`, diagnostic: (message) => console.error(`  ${message}`) };
}

async function measure(server, profile) {
  const browser = await launchBrowser(profile);
  let result;
  try {
    await withPage(reporter(profile), browser, profile, async (page) => {
      await page.goto(`${server.origin}/`, { timeout: LOAD_TIMEOUT_MS });
      await page.locator(SELECTORS.play).waitFor({ timeout: LOAD_TIMEOUT_MS });
      // Both runs have started once the first heatmap is drawn.
      await page.locator('canvas[data-testid="attention-zoom"]').nth(1).waitFor({ timeout: LOAD_TIMEOUT_MS });
      const badge = await page.locator(SELECTORS.backendBadge).innerText();
      const query = await page.evaluate(() => location.search);

      const [startStep] = await readNumbers(page, SELECTORS.stepCounter);
      const start = Date.now();
      await page.locator(SELECTORS.play).click();
      await page.waitForTimeout(seconds * 1000);
      const [endStep] = await readNumbers(page, SELECTORS.stepCounter);
      const elapsed = (Date.now() - start) / 1000;
      const perRun = await page.locator(SELECTORS.speed).allInnerTexts();
      const total = await page.locator(SELECTORS.speedTotal).innerText();
      await page.locator(SELECTORS.play).click();

      result = {
        profile,
        backend: badge,
        settings: query,
        seconds: elapsed.toFixed(1),
        steps: endStep - startStep,
        stepsPerSecondPerRun: ((endStep - startStep) / elapsed).toFixed(2),
        pagePerRun: perRun.join(' | '),
        pageTotal: total,
      };
    });
  } finally {
    await browser.close();
  }
  return result;
}

const server = await startServer();
try {
  for (const profile of profiles) {
    console.error(`${profile}: training the default lesson for ${seconds} s`);
    const result = await measure(server, profile);
    for (const [key, value] of Object.entries(result)) {
      console.log(`${profile}\t${key}\t${value}`);
    }
  }
} finally {
  await server.close();
}
