// Tests of the page's data features through their `data-testid`
// attributes: runs kept in IndexedDB and restored after a reload, a run's
// JSON exported and imported again, downloads of charts, metrics and the
// model, and the user's own text. Run by `cargo xtask e2e`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { launchBrowser, startServer, withPage } from './harness.js';

const TINY_CONFIG = '?width=16&seq_len=16&batch=4&layers=1&heads=1';
const LOAD_TIMEOUT_MS = 30_000;
const TRAIN_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 240_000;
const STEPS_TO_SEE = 20;
/** The page's limit on an imported run's JSON (MAX_IMPORT_BYTES). */
const MAX_IMPORT_BYTES = 8 << 20;
/** The page's limit on the user's text (Limits::PAGE.max_text_bytes). */
const MAX_TEXT_BYTES = 1 << 20;

const $ = (id) => `[data-testid="${id}"]`;

async function readNumbers(page, selector) {
  const texts = await page.locator(selector).allInnerTexts();
  return texts.map((text) => {
    const match = text.replace(/,/g, '').match(/-?\d+(\.\d+)?(e-?\d+)?/i);
    return match ? Number(match[0]) : NaN;
  });
}

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
  assert.fail(`timed out waiting for ${condition}; last values of ${selector}: ${numbers.join(', ')}`);
}

/** Opens the tiny page with no saved session left by an earlier test. */
async function openTinyPage(page, origin) {
  await page.goto(`${origin}/${TINY_CONFIG}`, { timeout: LOAD_TIMEOUT_MS });
  await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const request = indexedDB.deleteDatabase('gatelab');
        request.onsuccess = resolve;
        request.onerror = reject;
        request.onblocked = resolve;
      }),
  );
  await page.reload({ timeout: LOAD_TIMEOUT_MS });
  await page.locator($('play')).waitFor({ timeout: LOAD_TIMEOUT_MS });
}

/**
 * Plays until both runs passed STEPS_TO_SEE steps, pauses, and waits until
 * the runs stopped and the pause saved them. Returns the step counter, which
 * the saved step must equal.
 */
async function trainAndPause(page) {
  await page.locator($('play')).click();
  await waitForNumbers(page, $('step-counter'), (step) => step >= STEPS_TO_SEE, `${STEPS_TO_SEE} steps`);
  await page.locator($('play')).click();
  await page.locator(`${$('play')}[aria-pressed="false"]`).waitFor();
  // The chunks in flight still land after the pause; wait until nothing moves.
  let last = '';
  for (let stable = 0; stable < 4; ) {
    await page.waitForTimeout(500);
    const now = `${await page.locator($('step-counter')).innerText()}|${await page.locator($('save-status')).innerText()}`;
    stable = now === last && /\d/.test(now.split('|')[1]) ? stable + 1 : 0;
    last = now;
  }
  const [step] = await readNumbers(page, $('step-counter'));
  const [saved] = await readNumbers(page, $('save-status'));
  assert.equal(saved, step, 'the saved step differs from the step counter');
  return { step, saved };
}

/** Exports runs A and B as JSON and returns each run's step and the step of its last metrics. */
async function exportedSteps(page, dir) {
  const steps = [];
  for (const run of ['downloads-a', 'downloads-b']) {
    const file = await download(page, page.locator($(run)).locator($('export-run')), dir);
    const json = JSON.parse(await readFile(file.path, 'utf8'));
    steps.push({ step: json.step, lastMetrics: json.history.at(-1).step });
  }
  return steps;
}

/** Records the text of every settings rejection that the page shows, from the first render on. */
async function recordRejections(page) {
  await page.addInitScript(() => {
    window.gatelabRejections = [];
    new MutationObserver(() => {
      for (const node of document.querySelectorAll('[data-testid="url-error"], [data-testid="text-missing"]')) {
        if (!window.gatelabRejections.includes(node.textContent)) window.gatelabRejections.push(node.textContent);
      }
    }).observe(document, { childList: true, subtree: true });
  });
}

/** Clicks `locator` and returns the download it starts, saved under `dir`. */
async function download(page, locator, dir) {
  const [file] = await Promise.all([page.waitForEvent('download'), locator.click()]);
  const target = path.join(dir, file.suggestedFilename());
  await file.saveAs(target);
  return { name: file.suggestedFilename(), path: target };
}

/** Parses a safetensors file's header: an 8-byte little-endian length, then JSON. */
function safetensorsHeader(bytes) {
  const length = Number(bytes.readBigUInt64LE(0));
  return JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
}

let server;
let scratch;
before(async () => {
  server = await startServer();
  scratch = await mkdtemp(path.join(tmpdir(), 'gatelab-data-'));
});
after(async () => {
  await server?.close();
  await rm(scratch, { recursive: true, force: true });
});

for (const profile of ['cpu', 'webgpu']) {
  describe(`${profile} profile`, () => {
    let browser;
    before(async () => {
      browser = await launchBrowser(profile);
    });
    after(async () => {
      await browser?.close();
    });

    test('a reload offers the saved runs and restores them', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      await withPage(t, browser, profile, async (page) => {
        await openTinyPage(page, server.origin);
        const { step, saved } = await trainAndPause(page);
        const fAttn = await page.locator($('f-attn')).allInnerTexts();
        const loss = await page.locator($('loss')).allInnerTexts();
        // Paused runs meet at one step, the step that the counter shows.
        const steps = await exportedSteps(page, scratch);
        assert.deepEqual(steps.map((run) => run.step), [step, step], 'the paused runs are at different steps');

        await page.reload({ timeout: LOAD_TIMEOUT_MS });
        const banner = page.locator($('restore-banner'));
        await banner.waitFor({ timeout: LOAD_TIMEOUT_MS });
        assert.match(await banner.innerText(), new RegExp(`\\b${saved}\\b`), 'the banner names the saved step');
        await page.locator(`${$('restore')}:not([disabled])`).click();
        await page.locator($('restored-note')).waitFor();
        await waitForNumbers(page, $('step-counter'), (s) => s === step, `the restored step ${step}`);
        // Each run shows its F-Attn once its restored metrics arrive, which
        // can be after the step counter shows the restored step.
        await page.waitForFunction(
          ([selector, want]) => [...document.querySelectorAll(selector)].map((e) => e.innerText).join('|') === want,
          [$('f-attn'), fAttn.join('|')],
          { timeout: LOAD_TIMEOUT_MS },
        ).catch(() => {});
        assert.deepEqual(await page.locator($('f-attn')).allInnerTexts(), fAttn, 'restored F-Attn differs');
        assert.deepEqual(await page.locator($('loss')).allInnerTexts(), loss, 'restored loss differs');
        assert.equal(await banner.count(), 0, 'the banner stays after restoring');
        assert.deepEqual(await exportedSteps(page, scratch), steps, 'restored steps or histories differ');

        // The restored runs train on from the saved step.
        await page.locator($('play')).click();
        await waitForNumbers(page, $('step-counter'), (s) => s >= step + 10, 'training after the restore');
        await page.locator($('play')).click();

        // Discard deletes the record: the next reload offers nothing.
        await page.reload({ timeout: LOAD_TIMEOUT_MS });
        await banner.waitFor({ timeout: LOAD_TIMEOUT_MS });
        await page.locator($('discard')).click();
        assert.equal(await banner.count(), 0);
        await page.waitForTimeout(500);
        await page.reload({ timeout: LOAD_TIMEOUT_MS });
        await page.locator($('play')).waitFor({ timeout: LOAD_TIMEOUT_MS });
        await page.waitForTimeout(2000);
        assert.equal(await banner.count(), 0, 'a discarded session is offered again');
      });
    });

    test('a reload of an own-text run shows no rejection', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      await withPage(t, browser, profile, async (page) => {
        await recordRejections(page);
        await openTinyPage(page, server.origin);
        await page.locator('details.own-text > summary').click();
        const text = 'The cat sat on the mat, and the dog sat on the log by the door. '.repeat(3);
        await page.locator($('text-input')).fill(text);
        await page.locator($('use-text')).click();
        await page.waitForFunction(() => location.search.includes('task=text-custom'));
        const { step } = await trainAndPause(page);

        // The link sets task=text-custom, but the text itself is only in IndexedDB.
        await page.reload({ timeout: LOAD_TIMEOUT_MS });
        const banner = page.locator($('restore-banner'));
        await banner.waitFor({ timeout: LOAD_TIMEOUT_MS });
        assert.equal(await page.locator('select[name="task"]').inputValue(), 'text-custom', 'the reload dropped the own-text task');
        await page.locator(`${$('restore')}:not([disabled])`).click();
        await page.locator($('restored-note')).waitFor();
        await waitForNumbers(page, $('step-counter'), (s) => s === step, `the restored step ${step}`);
        assert.equal(await page.locator('select[name="task"]').inputValue(), 'text-custom');
        // The own-text panel is closed after the reload, so its text is read without rendering.
        assert.match(await page.locator($('text-summary')).textContent(), new RegExp(`\\b${text.length}\\b`));
        assert.deepEqual(await page.evaluate(() => window.gatelabRejections), [], 'the page showed a rejection');

        // The recorder does see a rejection: a link with an invalid width.
        await page.goto(`${server.origin}/?width=33`, { timeout: LOAD_TIMEOUT_MS });
        await page.locator($('url-error')).waitFor({ timeout: LOAD_TIMEOUT_MS });
        assert.equal((await page.evaluate(() => window.gatelabRejections)).length, 1);
      });
    });

    test('the model downloads as safetensors with its config', { timeout: TEST_TIMEOUT_MS }, async (t) => {
      await withPage(t, browser, profile, async (page) => {
        await openTinyPage(page, server.origin);
        await trainAndPause(page);
        // Run B is G1: its tensors include the gate.
        const button = page.locator($('downloads-b')).locator($('export-model'));
        const downloads = [];
        page.on('download', (file) => downloads.push(file));
        await button.click();
        const deadline = Date.now() + 20_000;
        while (downloads.length < 2 && Date.now() < deadline) {
          await page.waitForTimeout(100);
        }
        const names = downloads.map((file) => file.suggestedFilename()).sort();
        assert.equal(names.length, 2, `downloads: ${names.join(', ')}`);
        const step = Number(names[0].match(/^gatelab-b-g1-step(\d+)-config\.json$/)?.[1]);
        assert.deepEqual(names, [`gatelab-b-g1-step${step}-config.json`, `gatelab-b-g1-step${step}-model.safetensors`]);
        const model = downloads.find((file) => file.suggestedFilename().endsWith('.safetensors'));
        const modelPath = path.join(scratch, `${profile}-model.safetensors`);
        await model.saveAs(modelPath);
        const header = safetensorsHeader(await readFile(modelPath));
        for (const name of ['tok_emb', 'pos_emb', 'layers.0.attn.wq', 'layers.0.attn.wg', 'final_norm.gain', 'lm_head']) {
          assert.ok(header[name], `the safetensors header lacks ${name}: ${Object.keys(header).join(', ')}`);
          assert.equal(header[name].dtype, 'F32');
        }
        assert.deepEqual(header['layers.0.attn.wq'].shape, [16, 16]);
        const config = downloads.find((file) => file.suggestedFilename().endsWith('.json'));
        const configPath = path.join(scratch, `${profile}-config.json`);
        await config.saveAs(configPath);
        const meta = JSON.parse(await readFile(configPath, 'utf8'));
        assert.equal(meta.step, step);
        assert.equal(meta.config.model.width, 16);
        assert.ok(meta.history.length >= 2, 'the config carries the metric history');
      });
    });
  });
}

describe('cpu profile, files', () => {
  const profile = 'cpu';
  let browser;
  before(async () => {
    browser = await launchBrowser(profile);
  });
  after(async () => {
    await browser?.close();
  });

  test('a run exported as JSON imports again with the same numbers', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openTinyPage(page, server.origin);
      await trainAndPause(page);
      const runA = page.locator('article.run').first();
      const fAttn = await runA.locator($('f-attn')).innerText();
      const loss = await runA.locator($('loss')).innerText();
      const exported = await download(page, page.locator($('downloads-a')).locator($('export-run')), scratch);
      assert.match(exported.name, /^gatelab-a-baseline-step\d+-run\.json$/);
      const json = JSON.parse(await readFile(exported.path, 'utf8'));
      assert.equal(json.format, 'gatelab-run');
      assert.equal(json.version, 1);

      await page.locator($('import-run')).setInputFiles(exported.path);
      const imported = page.locator($('imported-run'));
      await imported.waitFor();
      assert.equal(await imported.locator($('f-attn')).innerText(), fAttn, 'imported F-Attn differs');
      assert.equal(await imported.locator($('loss')).innerText(), loss, 'imported loss differs');
      assert.equal(await page.locator($('import-error')).count(), 0);
      assert.equal(await imported.locator($('variant-knobs')).count(), 0, 'an imported run offers the variant knobs');

      // Bad files: each gets its message, and the page keeps what it shows.
      const stepsBefore = await page.locator($('step-counter')).innerText();
      const bad = [
        ['broken.json', '{ "format": "gatelab-run", ', /not valid JSON/],
        ['newer.json', JSON.stringify({ ...json, version: 99 }), /version 99.*version 1/],
        ['other.json', JSON.stringify({ hello: 'world' }), /not a gatelab run/],
        ['wide.json', JSON.stringify({ ...json, config: { ...json.config, model: { ...json.config.model, width: 4096 } } }), /config is invalid.*width/],
        ['huge.json', ' '.repeat(MAX_IMPORT_BYTES + 1), new RegExp(`${MAX_IMPORT_BYTES + 1} bytes.*at most ${MAX_IMPORT_BYTES}`)],
      ];
      for (const [name, text, message] of bad) {
        const file = path.join(scratch, name);
        await writeFile(file, text);
        await page.locator($('import-run')).setInputFiles(file);
        const error = page.locator($('import-error'));
        await error.filter({ hasText: name }).waitFor({ timeout: 10_000 });
        assert.match(await error.innerText(), message, `${name}`);
      }
      assert.equal(await imported.count(), 1, 'a bad import removed the imported run');
      assert.equal(await page.locator($('step-counter')).innerText(), stepsBefore, 'a bad import changed the runs');
    });
  });

  test('charts download as PNG and metrics as CSV and JSON', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openTinyPage(page, server.origin);
      await trainAndPause(page);
      const png = await download(page, page.locator($('export-png')).first(), scratch);
      assert.match(png.name, /\.png$/);
      const bytes = await readFile(png.path);
      assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'not a PNG');
      assert.ok(bytes.length > 1000, `the PNG has only ${bytes.length} bytes`);

      const csv = await download(page, page.locator($('downloads-a')).locator($('export-csv')), scratch);
      const lines = (await readFile(csv.path, 'utf8')).trim().split('\n');
      // The command line's --csv header (gatelab_model::metrics_csv::CSV_COLUMNS).
      assert.equal(
        lines[0],
        'variant,step,train_loss,val_loss,val_loss_copy,f_attn,f_attn_uniform,sink_heads,null_mass,gate_mean,' +
          'gate_below_0_1,gate_active,gate_dormant,bos_value_norm,m_act,grad_norm,lr',
      );
      assert.ok(lines.length >= 3, `the CSV has ${lines.length} lines`);
      assert.match(lines[1], /^baseline,0,,/);

      // The runs train apart, so each run's JSON is compared with its own CSV.
      const csvB = await download(page, page.locator($('downloads-b')).locator($('export-csv')), scratch);
      const linesB = (await readFile(csvB.path, 'utf8')).trim().split('\n');
      const metrics = await download(page, page.locator($('downloads-b')).locator($('export-metrics')), scratch);
      const history = JSON.parse(await readFile(metrics.path, 'utf8'));
      assert.equal(history.length, linesB.length - 1, "run B's JSON has a record for each row of its CSV");
      assert.ok(history.at(-1).gate, 'run B (G1) records gate metrics');
    });
  });

  test('the user\'s own text trains, and an oversized file is refused', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, profile, async (page) => {
      await openTinyPage(page, server.origin);
      await page.locator('details.own-text > summary').click();
      // A Japanese text of 97 characters: the summary counts every one.
      const text = 'ねこがすきです。いぬもすきです。'.repeat(6) + '鬱';
      const small = path.join(scratch, 'own.txt');
      await writeFile(small, text);
      await page.locator($('text-file')).setInputFiles(small);
      const summary = page.locator($('text-summary'));
      await summary.waitFor({ timeout: 10_000 });
      assert.match(await summary.innerText(), new RegExp(`\\b${[...text].length}\\b`));
      assert.equal(await page.locator('select[name="task"]').inputValue(), 'text-custom');
      await page.locator($('play')).click();
      await waitForNumbers(page, $('step-counter'), (step) => step >= 5, 'training on the own text');
      await page.locator($('play')).click();

      const big = path.join(scratch, 'big.txt');
      await writeFile(big, 'a'.repeat(MAX_TEXT_BYTES + 1));
      await page.locator($('text-file')).setInputFiles(big);
      const error = page.locator($('text-error'));
      await error.waitFor({ timeout: 10_000 });
      const message = await error.innerText();
      assert.match(message, /big\.txt/);
      assert.match(message, /text/);
      assert.match(message, new RegExp(`${MAX_TEXT_BYTES + 1} bytes`));
      assert.match(message, new RegExp(`${MAX_TEXT_BYTES}`));
      assert.equal(await page.locator('select[name="task"]').inputValue(), 'text-custom', 'the refused file changed the task');
      await summary.waitFor();

      // A pasted text that is too short names the field and the minimum.
      await page.locator($('text-input')).fill('short');
      await page.locator($('use-text')).click();
      await error.filter({ hasText: /5 characters/ }).waitFor({ timeout: 10_000 });
      assert.match(await error.innerText(), /64 characters/);
    });
  });
});
