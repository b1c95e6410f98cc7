// Tests of the teaching tools: the Japanese page shows no English sentence,
// lessons set the runs, classroom links hide controls, and the copied link
// reproduces the view. Run by `cargo xtask e2e` in the cpu profile, where no
// GPU work slows the page down.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser, startServer, withPage } from './harness.js';

const LOAD_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 90_000;
const PROFILE = 'cpu';
const SCREENSHOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

/**
 * Latin words that Japanese text keeps: product and API names, metric and
 * variant names, and the technical terms readers search for in English.
 * Compared case-sensitively, one word at a time.
 */
const ALLOWED_WORDS = new Set([
  'gatelab', 'WebGPU', 'GPU', 'CPU', 'API', 'WGSL', 'Rust', 'WebAssembly', 'Web', 'Worker',
  'Transformer', 'navigator', 'gpu', 'arXiv', 'Qiu', 'English', 'BOS', 'F-Attn', 'softmax', 'softmax1',
  'sigmoid', 'value', 'G1', 'G2', 'G3', 'G4', 'G5', 'headwise', 'elementwise', 'sink', 'logit', 'MoE',
  'Wo', 'W_θ', 'X', 'Y', 'Ctrl', 'C', 'Mac', 'SwiftShader',
  // File formats on the export buttons.
  'JSON', 'CSV', 'PNG', 'safetensors',
  // Variant names, shown as they are typed in links.
  'baseline', 'g1', 'g1-headwise', 'g1-shared', 'g1-additive', 'g1-silu', 'g2', 'g3', 'g4', 'g5',
  'sink-logit', 'sigmoid-attn',
]);

/**
 * Returns the visible text runs of the page that contain a Latin word
 * outside ALLOWED_WORDS. Skips formulas (`<math>`), text marked with a
 * language other than the page's (the paper title has `lang="en"`), and the
 * engine badge, whose adapter name comes from the browser. Input values,
 * such as the link field's, are not text nodes, so they are not checked.
 */
async function strayLatinText(page, allowed) {
  return page.evaluate((allowedWords) => {
    const allowedSet = new Set(allowedWords);
    // Layer and head names of the heatmap cells, such as `L1 H2`, are notation.
    const LAYER_HEAD_LABEL = /^[LH]\d+$/;
    const stray = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!parent || parent.closest('math, script, style, [data-testid="backend-badge"]')) {
        continue;
      }
      const marked = parent.closest('[lang]');
      if (marked && marked.getAttribute('lang') !== document.documentElement.lang) {
        continue;
      }
      // Text inside a closed <details> or a display:none element is not shown.
      if (parent.checkVisibility && !parent.checkVisibility()) {
        continue;
      }
      const words = node.textContent.match(/[A-Za-z][A-Za-z0-9_θ.+-]*/g) ?? [];
      const unknown = words
        .map((word) => word.replace(/[.+-]+$/, ''))
        .filter((word) => !allowedSet.has(word) && !LAYER_HEAD_LABEL.test(word));
      if (unknown.length > 0) {
        stray.push(`${unknown.join(' ')}  <-  "${node.textContent.trim().slice(0, 80)}"`);
      }
    }
    return stray;
  }, [...allowed]);
}

async function openPage(page, url) {
  await page.goto(url, { timeout: LOAD_TIMEOUT_MS });
  await page.locator('[data-testid="play"]').waitFor({ timeout: LOAD_TIMEOUT_MS });
}

/** Waits until the page has picked its engine, so that the badge text is final. */
async function waitForEngine(page) {
  await page.waitForFunction(
    () => document.querySelector('[data-testid="backend-badge"]')?.className.includes('cpu'),
    null,
    { timeout: LOAD_TIMEOUT_MS },
  );
}

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser(PROFILE);
});
after(async () => {
  await browser?.close();
  await server?.close();
});

describe('Japanese page', () => {
  test('lang=ja shows no English', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, PROFILE, async (page) => {
      await openPage(page, `${server.origin}/?lang=ja`);
      await waitForEngine(page);
      assert.equal(await page.locator('html').getAttribute('lang'), 'ja');
      // Open the chosen lesson and the classroom panel, so their text is checked too.
      await page.locator('[data-testid="lesson-where-g2"]').click();
      await page.locator('[data-testid="classroom-details"] summary').click();
      await page.locator('[data-testid="lesson-watch"]').waitFor();

      const stray = await strayLatinText(page, ALLOWED_WORDS);
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'teach-japanese-full.png'), fullPage: true });
      await page.locator('[data-testid="lessons"]').screenshot({ path: path.join(SCREENSHOT_DIR, 'teach-japanese-lessons.png') });
      await page.locator('[data-testid="classroom"]').screenshot({ path: path.join(SCREENSHOT_DIR, 'teach-japanese-classroom.png') });
      await page.locator('[data-testid="explain"]').screenshot({ path: path.join(SCREENSHOT_DIR, 'teach-japanese-explain.png') });
      assert.deepEqual(stray, [], `English text on the Japanese page:\n${stray.join('\n')}`);

      // The cpu profile offers WebGPU without an adapter: the badge's tooltip
      // is a Japanese sentence, with wgpu's English message only as a detail.
      const title = await page.locator('[data-testid="backend-badge"]').getAttribute('title');
      assert.match(title, /^このブラウザには WebGPU がありますが.*詳細: \S/, title);
    });
  });

  test('switching shows no English', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, PROFILE, async (page) => {
      await openPage(page, `${server.origin}/`);
      await waitForEngine(page);
      await page.locator('.language-switch button[lang="ja"]').click();
      await page.waitForFunction(() => document.documentElement.lang === 'ja');

      const stray = await strayLatinText(page, ALLOWED_WORDS);
      assert.deepEqual(stray, [], `English text on the Japanese page:\n${stray.join('\n')}`);
      assert.match(new URL(page.url()).search, /lang=ja/);
    });
  });

  test('check flags English text', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    // The same check on the English page must find plenty, or it checks nothing.
    await withPage(t, browser, PROFILE, async (page) => {
      await openPage(page, `${server.origin}/?lang=en`);
      const stray = await strayLatinText(page, ALLOWED_WORDS);
      assert.ok(stray.length > 20, `expected the English page to be flagged, got ${stray.length} runs`);
    });
  });
});

describe('lessons and classroom links', () => {
  test('lesson sets both runs', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, PROFILE, async (page) => {
      await openPage(page, `${server.origin}/?lang=en`);
      await waitForEngine(page);
      await page.locator('[data-testid="lesson-headwise"]').click();

      const selects = page.locator('[data-testid="variant-select"]');
      await page.waitForFunction(() => new URL(location.href).searchParams.get('lesson') === 'headwise');
      assert.deepEqual(await selects.evaluateAll((nodes) => nodes.map((node) => node.value)), ['g1', 'g1-headwise']);
      assert.equal(await page.locator('select[name="heads"]').inputValue(), '2');
      assert.equal(await page.locator('select[name="layers"]').inputValue(), '2');
      assert.match(await page.locator('[data-testid="lesson-watch"]').innerText(), /2 layers and 2 heads/);
    });
  });

  test('follow-up lessons appear', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, PROFILE, async (page) => {
      await openPage(page, `${server.origin}/?lang=en`);
      assert.equal(await page.locator('[data-testid="lesson-where-g5"]').count(), 0);
      await page.locator('[data-testid="lesson-where-g2"]').click();
      await page.locator('[data-testid="lesson-where-g3-g4"]').click();

      const selects = page.locator('[data-testid="variant-select"]');
      assert.deepEqual(await selects.evaluateAll((nodes) => nodes.map((node) => node.value)), ['g3', 'g4']);
      assert.equal(await page.locator('[data-testid="lesson-where-g5"]').count(), 1);
    });
  });

  test('link hides chosen controls', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, PROFILE, async (page) => {
      await openPage(page, `${server.origin}/?lesson=gate&hide=sizes,seed,variants,lessons&lang=en`);
      await waitForEngine(page);

      for (const name of ['layers', 'heads', 'width', 'seq_len', 'batch']) {
        assert.equal(await page.locator(`select[name="${name}"]`).count(), 0, `select ${name} is shown`);
      }
      assert.equal(await page.locator('[data-testid="new-seed"]').count(), 0);
      assert.equal(await page.locator('[data-testid="variant-select"]').count(), 0);
      assert.equal(await page.locator('[data-testid="variant-knobs"]').count(), 0, 'the knobs change the variant too');
      assert.equal(await page.locator('[data-testid="lessons"]').count(), 0);
      // Controls the link does not hide stay, and the runs show their variants.
      assert.equal(await page.locator('select[name="lr"]').count(), 1);
      assert.equal(await page.locator('select[name="task"]').count(), 1);
      assert.deepEqual(await page.locator('[data-testid="variant-name"]').allInnerTexts(), ['baseline', 'g1']);
      assert.equal(await page.locator('[data-testid="url-error"]').count(), 0);
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'teach-student-view.png') });
    });
  });

  test('copied link round-trips', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, PROFILE, async (page) => {
      await openPage(page, `${server.origin}/gatelab/?lang=en`);
      await waitForEngine(page);
      await page.locator('[data-testid="lesson-shared"]').click();
      await page.locator('select[name="lr"]').selectOption('0.01');
      await page.locator('[data-testid="classroom-details"] summary').click();
      await page.locator('[data-testid="hide-lr"]').check();
      await page.locator('[data-testid="hide-seed"]').check();
      await page.locator('.language-switch button[lang="ja"]').click();
      await page.locator('[data-testid="copy-link"]').click();
      // The clipboard may be refused in a headless browser; then the field is selected.
      await page.waitForFunction(() => document.querySelector('[data-testid="copy-status"]')?.textContent !== '');

      const link = await page.locator('[data-testid="link-field"]').inputValue();
      assert.equal(link, page.url());
      const url = new URL(link);
      assert.equal(url.pathname, '/gatelab/');
      assert.equal(url.searchParams.get('lesson'), 'shared');
      assert.equal(url.searchParams.get('hide'), 'lr,seed');
      assert.equal(url.searchParams.get('lang'), 'ja');
      assert.equal(url.searchParams.get('lr'), '0.01');

      const student = await browser.context.newPage();
      try {
        await openPage(student, link);
        assert.equal(await student.locator('[data-testid="link-field"]').inputValue(), link);
        assert.equal(await student.locator('html').getAttribute('lang'), 'ja');
        assert.equal(await student.locator('select[name="lr"]').count(), 0);
        assert.equal(await student.locator('[data-testid="new-seed"]').count(), 0);
        assert.equal(await student.locator('[data-testid="lesson-shared"]').getAttribute('aria-pressed'), 'true');
        const selects = student.locator('[data-testid="variant-select"]');
        assert.deepEqual(await selects.evaluateAll((nodes) => nodes.map((node) => node.value)), ['g1', 'g1-shared']);
      } finally {
        await student.close();
      }
    });
  });

  test('bad classroom values rejected', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, PROFILE, async (page) => {
      await openPage(page, `${server.origin}/?lesson=nope&lang=fr&hide=seed,colours`);
      const errors = await page.locator('[data-testid="url-error"]').allInnerTexts();
      assert.equal(errors.length, 3, errors.join('\n'));
      assert.ok(errors.some((text) => text.includes('lesson = nope')), errors.join('\n'));
      assert.ok(errors.some((text) => text.includes('lang = fr') && text.includes('en, ja')), errors.join('\n'));
      assert.ok(errors.some((text) => text.includes('hide = seed,colours')), errors.join('\n'));
      // A rejected list hides nothing.
      assert.equal(await page.locator('[data-testid="new-seed"]').count(), 1);
    });
  });
});

describe('probe', () => {
  /** A model small enough to train visibly on the CPU engine. */
  const TINY = 'width=16&seq_len=16&batch=4&layers=1&heads=1&a=baseline&b=g1&lang=en';

  async function predictionTexts(page) {
    return page.locator('[data-testid="probe-predictions"] tbody').allInnerTexts();
  }

  test('typed sequence shows both runs', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, PROFILE, async (page) => {
      await openPage(page, `${server.origin}/?${TINY}`);
      await waitForEngine(page);
      await checkProbe(page, 'teach-probe.png');
    });
  });

  test('GPU engine answers probes', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const gpuBrowser = await launchBrowser('webgpu');
    try {
      await withPage(t, gpuBrowser, 'webgpu', async (page) => {
        await openPage(page, `${server.origin}/?${TINY}`);
        await page.waitForFunction(
          () => document.querySelector('[data-testid="backend-badge"]')?.className.includes('gpu'),
          null,
          { timeout: LOAD_TIMEOUT_MS },
        );
        await checkProbe(page, 'teach-probe-gpu.png');
      });
    } finally {
      await gpuBrowser.close();
    }
  });

  /** Types a sequence, checks both runs' probe views, and checks that they follow training. */
  async function checkProbe(page, screenshot) {
    await page.locator('[data-testid="probe-input"]').fill('5 9 12');

    const tables = page.locator('[data-testid="probe-predictions"]');
    await tables.nth(1).waitFor({ timeout: LOAD_TIMEOUT_MS });
    assert.equal(await tables.count(), 2);
    assert.match(await tables.first().locator('caption').innerText(), /“12”/);
    assert.equal(await tables.first().locator('tbody tr').count(), 5);
    // Attention maps of both runs; the gate map only for the gated run B.
    assert.equal(await page.locator('canvas[data-testid="probe-attention"]').count(), 2);
    assert.equal(await page.locator('canvas[data-testid="probe-gates"]').count(), 1);
    await page.locator('[data-testid="probe"]').screenshot({ path: path.join(SCREENSHOT_DIR, screenshot) });

    // The probe follows training.
    const before = await predictionTexts(page);
    await page.locator('[data-testid="play"]').click();
    await page.waitForFunction(
      (old) => {
        const now = [...document.querySelectorAll('[data-testid="probe-predictions"] tbody')].map((node) => node.innerText);
        return now.length === 2 && now.every((text, index) => text !== old[index]);
      },
      before,
      { timeout: LOAD_TIMEOUT_MS },
    );
    await page.locator('[data-testid="play"]').click();
  }

  test('bad sequences rejected', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, PROFILE, async (page) => {
      await openPage(page, `${server.origin}/?${TINY}`);
      await waitForEngine(page);
      const input = page.locator('[data-testid="probe-input"]');
      const error = page.locator('[data-testid="probe-error"]');

      await input.fill('5 99 x');
      assert.match(await error.innerText(), /vocabulary: 99 x\./);
      assert.equal(await page.locator('[data-testid="probe-predictions"]').count(), 0);

      await input.fill(Array.from({ length: 16 }, (_, index) => String(index + 1)).join(' '));
      assert.match(await error.innerText(), /17 tokens with BOS.*only 16 positions/);

      await page.locator('[data-testid="probe-use-batch"]').click();
      assert.notEqual(await input.inputValue(), '');
      assert.equal(await error.count(), 0);
      await page.locator('[data-testid="probe-predictions"]').nth(1).waitFor({ timeout: LOAD_TIMEOUT_MS });
    });
  });
});

describe('link state and layout', () => {
  const TINY = 'width=16&seq_len=16&batch=4&layers=1&heads=1&a=baseline&b=g1&lang=en';
  const searchParam = (page, key) => new URL(page.url()).searchParams.get(key);

  test('link carries probe and short text', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, PROFILE, async (page) => {
      await openPage(page, `${server.origin}/?${TINY}&probe=5%209%2012`);
      await waitForEngine(page);
      const probe = page.locator('[data-testid="probe-input"]');
      assert.equal(await probe.inputValue(), '5 9 12');
      await page.locator('[data-testid="probe-predictions"]').nth(1).waitFor({ timeout: LOAD_TIMEOUT_MS });
      await probe.fill('5 9');
      await page.waitForFunction(() => new URL(location.href).searchParams.get('probe') === '5 9');
      assert.equal(await page.locator('[data-testid="loss-note"]').count(), 1, 'the Bigram-Backcopy loss note is missing');

      // A short own text goes into the link, with a probe in its characters.
      await page.locator('details.own-text > summary').click();
      const text = 'the cat sat on the mat and the dog sat on the log. '.repeat(3);
      await page.locator('[data-testid="text-input"]').fill(text);
      await page.locator('[data-testid="use-text"]').click();
      await page.locator('[data-testid="text-summary"]').waitFor({ timeout: LOAD_TIMEOUT_MS });
      await probe.fill('the ca');
      // Yew updates the address after the input event, not within it.
      await page.waitForFunction(() => new URL(location.href).searchParams.get('probe') === 'the ca');
      assert.equal(searchParam(page, 'text'), text);
      assert.equal(await page.locator('[data-testid="link-text-left-out"]').count(), 0);
      assert.equal(await page.locator('[data-testid="loss-note"]').count(), 0, 'the loss note is about Bigram-Backcopy only');

      const link = await page.locator('[data-testid="link-field"]').inputValue();
      const student = await browser.context.newPage();
      try {
        await openPage(student, link);
        assert.equal(await student.locator('[data-testid="url-error"]').count(), 0);
        assert.equal(await student.locator('select[name="task"]').inputValue(), 'text-custom');
        // The summary is inside the closed own-text panel, so it has no innerText.
        assert.match(await student.locator('[data-testid="text-summary"]').textContent(), new RegExp(`\\b${text.length}\\b`));
        assert.equal(await student.locator('[data-testid="probe-input"]').inputValue(), 'the ca');
      } finally {
        await student.close();
      }

      // A long text stays out of the link, and the classroom panel shows a note.
      await page.locator('[data-testid="text-input"]').fill('A longer text, with spaces. '.repeat(60));
      await page.locator('[data-testid="use-text"]').click();
      const note = page.locator('[data-testid="link-text-left-out"]');
      await note.waitFor({ timeout: LOAD_TIMEOUT_MS });
      assert.match(await note.innerText(), /does not carry your own text/);
      assert.equal(searchParam(page, 'text'), null);
      assert.equal(searchParam(page, 'task'), 'text-custom');
      await page.locator('.language-switch button[lang="ja"]').click();
      await page.waitForFunction(() => document.documentElement.lang === 'ja');
      assert.match(await note.innerText(), /リンクには含まれていません/);
    });
  });

  test('run columns line up', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, PROFILE, async (page) => {
      await openPage(page, `${server.origin}/?${TINY}`);
      await waitForEngine(page);
      // Run B (G1) has gate charts and run A (baseline) has not, yet each
      // chart below sits at the same height in both columns.
      await page.locator('[data-testid="gate-map"]').waitFor({ timeout: LOAD_TIMEOUT_MS });
      for (const chart of ['chart-f-attn', 'chart-gate-copy', 'chart-m-act', 'chart-loss']) {
        const tops = await page
          .locator(`.playground > .runs canvas[data-testid="${chart}"]`)
          .evaluateAll((nodes) => nodes.map((node) => Math.round(node.getBoundingClientRect().top)));
        assert.equal(tops.length, 2, chart);
        assert.equal(tops[0], tops[1], `${chart} sits at different heights`);
      }
    });
  });

  test('gate formula prime and parentheses', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await withPage(t, browser, PROFILE, async (page) => {
      await openPage(page, `${server.origin}/?lang=en`);
      const formula = page.locator('[data-testid="formula-gate"]');
      const y = await formula.locator('mi', { hasText: 'Y' }).first().boundingBox();
      const prime = await formula.locator('[data-testid="formula-prime"]').boundingBox();
      // The prime sits beside Y at its height, not raised above it.
      assert.ok(prime.x >= y.x + y.width - 2, `prime at x ${prime.x}, Y ends at ${y.x + y.width}`);
      assert.ok(prime.y >= y.y - 2, `prime top ${prime.y} above Y top ${y.y}`);
      // The parentheses around X W_θ are as tall as their content, not the fraction.
      const x = await formula.locator('mi', { hasText: 'X' }).boundingBox();
      const paren = await formula.locator('mo', { hasText: '(' }).first().boundingBox();
      assert.ok(paren.height <= 1.6 * x.height, `parenthesis ${paren.height} px tall, X ${x.height} px`);
      // θ is W's subscript: lower than W.
      const w = await formula.locator('msub > mi', { hasText: 'W' }).boundingBox();
      const theta = await formula.locator('msub > mi', { hasText: 'θ' }).boundingBox();
      assert.ok(theta.y + theta.height > w.y + w.height, 'θ does not sit below the baseline of W');
      await formula.screenshot({ path: path.join(SCREENSHOT_DIR, 'teach-gate-formula.png') });
    });
  });
});
