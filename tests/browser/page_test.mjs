// Browser test of the pgexport web page, driven by playwright-core with Debian's chromium.
//
//   node page_test.mjs <base-url> <output-dir> <expected-csv>
//
// Loads the page, picks category "books" and the columns id, category, amount, presses Export,
// waits for the new job to complete with its progress at 100%, downloads the file through the
// page's download link and compares it byte for byte with <expected-csv>. Saves a screenshot
// to <output-dir>/page.png. With PGEXPORT_API_KEY set (a server with --api-key), the page must first show
// the 401 problem (nothing listed; an export without a key and one with a wrong key refused, not started),
// then the key is typed and remembered, every API call carries it, and the download goes through the page's
// fetch-with-key (Blob) path. Exit 0 only if every check passed.
import { chromium } from 'playwright-core';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const [baseArg, outDir, expectedPath] = process.argv.slice(2);
if (!baseArg || !outDir || !expectedPath) {
  console.error('usage: node page_test.mjs <base-url> <output-dir> <expected-csv>');
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, '');
const apiKey = process.env.PGEXPORT_API_KEY || '';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const JOB_TIMEOUT_MS = Number(process.env.PGEXPORT_JOB_TIMEOUT_MS || 120000);

const checks = [];
function check(name, ok, detail) {
  checks.push({ name, ok: !!ok });
  console.log(`${ok ? 'ok' : 'not ok'} - ${name}${!ok && detail ? ` (${detail})` : ''}`);
  return !!ok;
}

await fs.mkdir(outDir, { recursive: true });
const userDataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgexport-chromium-'));
let context;
let failure = null;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(15000);
  const pageErrors = [];
  // With a key, the page's first calls (before the key is typed) are rightly answered 401.
  let keyTyped = !apiKey;
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    if (!keyTyped && /status of 401/.test(msg.text())) return;
    pageErrors.push(`console: ${msg.text()} [${msg.location().url || ''}]`);
  });

  const response = await page.goto(base + '/', { waitUntil: 'load' });
  check('page loads with 200', response && response.status() === 200, response && `status ${response.status()}`);
  check('page has its title', (await page.title()).includes('pgexport'));

  // Every form control has an accessible label.
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
      .map((e) => e.id || e.name),
  );
  check('every input has a label', unlabelled.length === 0, 'unlabelled: ' + unlabelled.join(', '));

  if (apiKey) {
    const keyField = page.getByTestId('api-key');
    const errorMessage = page.getByTestId('error-message');
    const formStatus = page.locator('#form-status');
    check('API key field is a password field', (await keyField.getAttribute('type')) === 'password');
    check('API key field starts empty', (await keyField.inputValue()) === '');
    // Without the key the page says that one is needed (its first job-list call is answered 401) ...
    await errorMessage.filter({ hasText: /needs an API key/ }).waitFor({ timeout: 10000 });
    check('without a key the page says the server needs one', true);
    await page.locator('#jobs-error').filter({ hasText: /API key/ }).waitFor({ timeout: 10000 });
    check('without a key the job list says it needs a key', true);
    check('without a key no job is listed', (await page.getByTestId('job-row').count()) === 0);

    // ... and an export is refused with that problem shown, not started. The form is left as it loaded
    // (all rows, all columns), so a browser that restores form state on reload changes nothing below.
    const exportRefused = async (what, wantKey, wantMessage) => {
      const [sent, answered] = await Promise.all([
        page.waitForRequest((r) => r.url() === base + '/api/export' && r.method() === 'POST'),
        page.waitForResponse((r) => r.url() === base + '/api/export' && r.request().method() === 'POST'),
        page.getByTestId('export-button').click(),
      ]);
      const auth = (await sent.allHeaders()).authorization;
      check(`${what}: the request carries ${wantKey ? 'that key' : 'no Authorization'}`,
        wantKey ? auth === 'Bearer ' + wantKey : auth === undefined, String(auth));
      check(`${what}: the export is answered 401`, answered.status() === 401, `status ${answered.status()}`);
      await errorMessage.filter({ hasText: wantMessage }).waitFor({ timeout: 10000 });
      check(`${what}: the page shows the API key problem`, true);
      check(`${what}: the page does not say the export started`,
        !/Export started/.test((await formStatus.textContent()) || ''), await formStatus.textContent());
      check(`${what}: the key field is marked invalid`, (await keyField.getAttribute('aria-invalid')) === 'true');
      check(`${what}: no job is listed`, (await page.getByTestId('job-row').count()) === 0);
    };
    await exportRefused('export without a key', '', /needs an API key/);
    await keyField.fill('wrong-' + apiKey);
    await exportRefused('export with a wrong key', 'wrong-' + apiKey, /was not accepted/);

    await keyField.fill(apiKey);
    // The key is remembered by the browser: it is there again after a reload.
    await page.reload({ waitUntil: 'load' });
    keyTyped = true;
    check('API key is remembered after a reload', (await keyField.inputValue()) === apiKey);
  }

  // The filter form: category books, columns id, category, amount (found by their labels).
  await page.getByLabel('Category', { exact: true }).selectOption('books');
  const columnBoxes = page.locator('#f-columns input[type=checkbox]');
  const allChecked = await columnBoxes.evaluateAll((boxes) => boxes.every((b) => b.checked));
  check('all columns are checked by default', allChecked);
  const wanted = ['id', 'category', 'amount'];
  for (const name of await columnBoxes.evaluateAll((boxes) => boxes.map((b) => b.value))) {
    const box = page.getByRole('checkbox', { name, exact: true });
    await box.setChecked(wanted.includes(name));
  }

  // Export, and read the job id from the API's answer.
  const [request, answer] = await Promise.all([
    page.waitForRequest((r) => r.url() === base + '/api/export' && r.method() === 'POST'),
    page.waitForResponse((r) => r.url() === base + '/api/export' && r.request().method() === 'POST'),
    page.getByTestId('export-button').click(),
  ]);
  const sent = request.postDataJSON();
  const expectedBody = { filters: { category: 'books' }, columns: ['id', 'category', 'amount'] };
  check('request body matches the contract', JSON.stringify(sent) === JSON.stringify(expectedBody), JSON.stringify(sent));
  if (apiKey)
    check('request carries the API key', (await request.allHeaders()).authorization === 'Bearer ' + apiKey);
  check('export answered 202', answer.status() === 202, `status ${answer.status()}: ${await answer.text()}`);
  const { jobId } = await answer.json();
  check('export answered a job id', typeof jobId === 'string' && jobId.length > 0, String(jobId));
  check('no error is shown', ((await page.getByTestId('error-message').textContent()) || '').trim() === '');

  // The job's row appears and reaches completed with progress at 100%.
  const row = page.locator(`[data-testid="job-row"][data-job-id="${jobId}"]`);
  await row.waitFor({ state: 'visible', timeout: 10000 });
  check('new job is listed first', (await page.getByTestId('job-row').first().getAttribute('data-job-id')) === jobId);
  await page.waitForSelector(`[data-testid="job-row"][data-job-id="${jobId}"][data-status="completed"]`, {
    timeout: JOB_TIMEOUT_MS,
  });
  check('job reaches data-status=completed', true);
  const progress = row.getByTestId('progress');
  check('progress has role=progressbar', (await progress.getAttribute('role')) === 'progressbar');
  check('progress aria-valuenow is 100', (await progress.getAttribute('aria-valuenow')) === '100',
    await progress.getAttribute('aria-valuenow'));
  const rowText = await row.innerText();
  check('progress shows 100%', rowText.includes('100%'), rowText);
  check('no cancel button on a completed job', (await row.getByTestId('cancel-button').count()) === 0);

  // Download through the page's link and compare byte for byte.
  const link = row.getByTestId('download-link');
  const [download, fileRequest] = await Promise.all([
    page.waitForEvent('download', { timeout: 60000 }),
    apiKey ? page.waitForRequest((r) => r.url() === `${base}/api/export/${jobId}/download`) : null,
    link.click(),
  ]);
  if (apiKey) {
    // A link cannot send a header: with a key the page fetches the file itself, with the key.
    check('the download request carries the API key',
      (await fileRequest.allHeaders()).authorization === 'Bearer ' + apiKey);
    check('exactly one job is listed (the refused exports made none)', (await page.getByTestId('job-row').count()) === 1);
  }
  const wantName = `export-${jobId}.csv`;
  check('download is named export-<id>.csv', download.suggestedFilename() === wantName, download.suggestedFilename());
  const savedPath = path.join(outDir, wantName);
  await download.saveAs(savedPath);
  const [got, want] = await Promise.all([fs.readFile(savedPath), fs.readFile(expectedPath)]);
  check('downloaded file equals the expected CSV byte for byte', got.equals(want),
    `got ${got.length} bytes, expected ${want.length}`);

  await page.screenshot({ path: path.join(outDir, 'page.png'), fullPage: true });
  check('no script errors on the page', pageErrors.length === 0, pageErrors.join(' | '));
} catch (err) {
  failure = err;
  console.log('not ok - ' + (err && err.stack ? err.stack : err));
  try {
    const page = context && context.pages()[0];
    if (page) await page.screenshot({ path: path.join(outDir, 'page.png'), fullPage: true });
  } catch {
    /* best effort */
  }
} finally {
  if (context) await context.close().catch(() => {});
  await fs.rm(userDataDir, { recursive: true, force: true }).catch(() => {});
}

const passed = !failure && checks.length > 0 && checks.every((c) => c.ok);
console.log(passed ? '1 passed, 0 failed' : '0 passed, 1 failed');
process.exit(passed ? 0 : 1);
