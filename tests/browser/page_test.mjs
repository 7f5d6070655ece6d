// Browser test of the pgexport web page, driven by playwright-core with Debian's chromium.
//
//   node page_test.mjs <base-url> <output-dir> <expected-csv>
//
// Loads the page, whose form is built from /api/schema, checks the input of each column's type, picks
// category "books" and the columns id, category, amount, presses Export, waits for the new job to
// complete with its progress at 100% (followed through its events), downloads the file through the
// page's download link and compares it byte for byte with <expected-csv>. Saves a screenshot to
// <output-dir>/page.png. With PGEXPORT_PAGE_SCENARIO=orders (a server serving records and orders), it
// picks orders in the table picker instead, checks that the form follows it (number, boolean, date, UTC
// timestamp, a select of an enum-like column's values), exports a filtered selection and saves
// page-orders.png. A bad timestamp's message must show next to its field at 900 px. With PGEXPORT_API_KEY set (a server with --api-key), the page must first show
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
// records: the demo table alone; orders: a server with records and orders, where orders is picked.
const scenario = process.env.PGEXPORT_PAGE_SCENARIO || 'records';
const screenshot = scenario === 'orders' ? 'page-orders.png' : 'page.png';
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
    // ... in this tab's session storage only: nothing on disk for the next user of the browser.
    const stored = await page.evaluate(() => ({
      local: Object.keys(localStorage).map((k) => localStorage.getItem(k)),
      session: sessionStorage.getItem('pgexport.apiKey'),
    }));
    check('API key is kept in session storage, not local storage',
      stored.session === apiKey && !stored.local.includes(apiKey), JSON.stringify(stored));
  }

  // The form is built from /api/schema: wait for it.
  await page.locator('#f-columns input[type=checkbox]').first().waitFor({ timeout: 15000 });
  const kindOf = (column) =>
    page.locator(`#filters [data-column="${column}"][data-kind]`).first().getAttribute('data-kind');
  const eventRequests = [];
  page.on('request', (r) => {
    if (/\/api\/export\/[^/]+\/events$/.test(r.url())) eventRequests.push(r.url());
  });

  let expectedBody;
  if (scenario === 'orders') {
    // A server with two tables: the picker offers both, and the form follows the one picked.
    const picker = page.getByTestId('table-picker');
    check('the table picker is shown', await picker.isVisible());
    const tables = await picker.locator('option').evaluateAll((os) => os.map((o) => o.value));
    check('the picker lists both tables', JSON.stringify(tables) === '["records","orders"]', JSON.stringify(tables));
    check('the title names the first table', (await page.locator('#table-name').textContent()) === 'records');
    await picker.selectOption('orders');
    await page.locator('#table-name', { hasText: /^orders$/ }).waitFor();
    await page.locator('#filters [data-column="order_id"]').first().waitFor();
    check('the page title names the table', (await page.title()).includes('orders'), await page.title());
    const names = await page.locator('#f-columns input').evaluateAll((bs) => bs.map((b) => b.value));
    check('the column list is the table\'s', JSON.stringify(names) ===
      '["order_id","customer","total","paid","ordered_on","placed_at","channel","note","state"]', JSON.stringify(names));
    const kinds = {};
    for (const c of names) kinds[c] = await kindOf(c);
    check('each column has the input of its type', JSON.stringify(kinds) === JSON.stringify({
      order_id: 'number', customer: 'text', total: 'number', paid: 'boolean', ordered_on: 'date',
      placed_at: 'timestamp', channel: 'choice', note: 'text', state: 'choice' }), JSON.stringify(kinds));
    const channel = page.locator('#filters select[data-column="channel"]');
    const channels = await channel.locator('option').evaluateAll((os) => os.map((o) => o.value));
    check('the enum-like column is a select of its values', JSON.stringify(channels) === '["","mail","phone","store","web"]',
      JSON.stringify(channels));
    const state = page.locator('#filters select[data-column="state"]');
    check('an enum is a select of its labels in declared order',
      JSON.stringify(await state.locator('option').evaluateAll((os) => os.map((o) => o.value))) === '["","new","packed","sent"]');
    const paid = page.locator('#filters select[data-column="paid"]');
    check('the boolean is a select of true and false',
      JSON.stringify(await paid.locator('option').evaluateAll((os) => os.map((o) => o.value))) === '["","true","false"]');
    const placed = page.locator('#filters fieldset[data-column="placed_at"]');
    check('the timestamp is labelled UTC', /UTC/.test(await placed.locator('legend').innerText()));
    const placedTypes = await placed.locator('input').evaluateAll((is) => is.map((i) => i.type));
    check('the timestamp is typed as text, not the browser\'s local date picker',
      JSON.stringify(placedTypes) === '["text","text"]', JSON.stringify(placedTypes));
    check('the total is a number input',
      (await page.locator('#filters input[data-column="total"]').first().getAttribute('type')) === 'number');

    await channel.selectOption('web');
    await paid.selectOption('true');
    await state.selectOption('sent');
    await page.locator('#filters input[data-column="placed_at"][data-bound="from"]').fill('2024-03-01 00:00:00');
    await page.locator('#filters input[data-column="placed_at"][data-bound="to"]').fill('2024-09-01');
    await page.locator('#filters input[data-column="total"][data-bound="from"]').fill('10');
    await page.getByRole('checkbox', { name: 'note', exact: true }).setChecked(false);
    expectedBody = {
      table: 'orders',
      filters: { total: { gte: 10 }, paid: true, placed_at: { gte: '2024-03-01T00:00:00Z', lt: '2024-09-01T00:00:00Z' },
        channel: 'web', state: 'sent' },
      columns: ['order_id', 'customer', 'total', 'paid', 'ordered_on', 'placed_at', 'channel', 'state'],
    };
  } else {
    // The demo table: category and status from the statistics as selects, created_at in UTC, amount a range.
    check('no table picker with one table', !(await page.getByTestId('table-picker').isVisible()));
    check('the title names the table', (await page.locator('#table-name').textContent()) === 'records');
    const kinds = {};
    for (const c of ['id', 'category', 'created_at', 'name', 'amount', 'status']) kinds[c] = await kindOf(c);
    check('each column has the input of its type', JSON.stringify(kinds) === JSON.stringify({
      id: 'number', category: 'choice', created_at: 'timestamp', name: 'text', amount: 'number', status: 'choice' }),
      JSON.stringify(kinds));

    if (!apiKey) {
      // A value the form cannot send is shown next to its control, in view at 900 px, and nothing is sent.
      await page.setViewportSize({ width: 900, height: 900 });
      const from = page.locator('#filters input[data-column="created_at"][data-bound="from"]');
      await from.fill('2024-13-45');
      let posted = false;
      const onPost = (r) => { if (r.url() === base + '/api/export' && r.method() === 'POST') posted = true; };
      page.on('request', onPost);
      await page.getByTestId('export-button').click();
      const message = page.locator('#filters [data-column="created_at"] [data-testid="field-error"]');
      await message.filter({ hasText: /YYYY-MM-DD/ }).waitFor({ timeout: 5000 });
      const boxOf = async (l) => l.evaluate((e) => { const r = e.getBoundingClientRect(); return { top: r.top, bottom: r.bottom }; });
      const box = await boxOf(message);
      check('the validation message is in view at 900 px', box.top >= 0 && box.bottom <= 900, JSON.stringify(box));
      const field = await boxOf(from);
      check('the validation message is right under its control', box.top >= field.bottom && box.top - field.bottom < 80,
        `${JSON.stringify(field)} ${JSON.stringify(box)}`);
      check('the bad value is marked invalid and focused', (await from.getAttribute('aria-invalid')) === 'true' &&
        (await from.evaluate((e) => e === document.activeElement)));
      check('nothing was sent', !posted);
      page.off('request', onPost);
      await from.fill('');
      await page.setViewportSize({ width: 1280, height: 900 });
    }

    await page.locator('#filters select[data-column="category"]').selectOption('books');
    const wanted = ['id', 'category', 'amount'];
    for (const name of await page.locator('#f-columns input').evaluateAll((bs) => bs.map((b) => b.value)))
      await page.getByRole('checkbox', { name, exact: true }).setChecked(wanted.includes(name));
    expectedBody = { filters: { category: 'books' }, columns: ['id', 'category', 'amount'] };
  }

  // Export, and read the job id from the API's answer.
  const [request, answer] = await Promise.all([
    page.waitForRequest((r) => r.url() === base + '/api/export' && r.method() === 'POST'),
    page.waitForResponse((r) => r.url() === base + '/api/export' && r.request().method() === 'POST'),
    page.getByTestId('export-button').click(),
  ]);
  const sent = request.postDataJSON();
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
  check('the page followed the job\'s events', eventRequests.some((u) => u.includes(jobId)), JSON.stringify(eventRequests));
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

  await page.screenshot({ path: path.join(outDir, screenshot), fullPage: true, animations: 'disabled' });
  // The server offers three formats (Parquet among them), two compressions and parallelism up to 4
  // (--max-parallelism's default): a control for each choice it offers.
  check('option controls follow the server: format, compression and parallelism',
    (await page.locator('#f-format').count()) === 1 && (await page.locator('#f-compression').count()) === 1 &&
    (await page.locator('#f-format option[value="parquet"]').count()) === 1 &&
    (await page.locator('#f-parallelism').count()) === 1 &&
    (await page.locator('#f-parallelism').getAttribute('max')) === '4');
  check('no script errors on the page', pageErrors.length === 0, pageErrors.join(' | '));

  if (scenario === 'records' && !apiKey) {
    // A server that offers formats, compression, CSV options and parallelism (simulated: this server's
    // /api/schema answer with more options): each gets its control, and the body carries what was chosen.
    await page.route(base + '/api/schema', async (route) => {
      const real = await (await route.fetch()).json();
      real.options = { formats: ['csv', 'jsonl', 'parquet'], compression: ['none', 'gzip'],
        csvOptions: ['delimiter', 'header', 'null', 'forceQuote', 'bom'],
        parquetOptions: { compression: ['zstd', 'snappy', 'none'], rowGroupRows: { min: 1000, max: 10000000, default: 100000 } },
        maxParallelism: 4 };
      await route.fulfill({ json: real });
    });
    let offered = null;
    await page.route(base + '/api/export', async (route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      offered = route.request().postDataJSON();
      await route.fulfill({ status: 400, json: { error: { code: 'invalid_request', message: 'simulated' } } });
    });
    await page.reload({ waitUntil: 'load' });
    await page.locator('#f-format').waitFor();
    const labelled = async (id) => page.locator(`label[for="${id}"]`).count();
    check('format, compression and parallelism have labelled controls',
      (await labelled('f-format')) === 1 && (await labelled('f-compression')) === 1 && (await labelled('f-parallelism')) === 1);
    await page.locator('#f-compression').selectOption('gzip');
    await page.locator('#f-csv-delimiter').selectOption(';');
    await page.locator('#f-csv-bom').check();
    await page.locator('#f-parallelism').fill('3');
    await page.getByTestId('export-button').click();
    await page.getByTestId('error-message').filter({ hasText: /simulated/ }).waitFor();
    check('the chosen options are sent, only where they differ from the defaults', JSON.stringify(offered) ===
      JSON.stringify({ columns: ['id', 'category', 'created_at', 'name', 'email', 'amount', 'status', 'description'],
        compression: 'gzip', csv: { delimiter: ';', bom: true }, parallelism: 3 }), JSON.stringify(offered));
    await page.locator('#f-format').selectOption('jsonl');
    check('CSV options hide for JSON Lines', !(await page.locator('#csv-options').isVisible()));
    check('the button names the format', /JSON Lines/.test(await page.getByTestId('export-button').innerText()));
    // Parquet: gzip and the CSV options do not apply; its own options do, sent where they differ.
    check('Parquet options hide until Parquet is chosen', !(await page.locator('#parquet-options').isVisible()));
    await page.locator('#f-format').selectOption('parquet');
    check('Parquet hides gzip and the CSV options, and shows its own',
      !(await page.locator('#f-compression').isVisible()) && !(await page.locator('#csv-options').isVisible()) &&
      (await page.locator('#parquet-options').isVisible()));
    check('the button names Parquet', /Parquet/.test(await page.getByTestId('export-button').innerText()));
    await page.locator('#f-parquet-compression').selectOption('snappy');
    await page.locator('#f-parquet-rows').fill('5000');
    const answered = page.waitForResponse((r) => r.url() === base + '/api/export' && r.request().method() === 'POST');
    await page.getByTestId('export-button').click();
    await answered;
    check('Parquet\'s options are sent, without gzip or CSV options', JSON.stringify(offered) ===
      JSON.stringify({ columns: ['id', 'category', 'created_at', 'name', 'email', 'amount', 'status', 'description'],
        format: 'parquet', parquet: { compression: 'snappy', rowGroupRows: 5000 }, parallelism: 3 }), JSON.stringify(offered));
    await page.unrouteAll({ behavior: 'wait' });
    const unexpected = pageErrors.filter((e) => !/status of 400/.test(e));
    check('no script errors with the options', unexpected.length === 0, unexpected.join(' | '));
  }
} catch (err) {
  failure = err;
  console.log('not ok - ' + (err && err.stack ? err.stack : err));
  try {
    const page = context && context.pages()[0];
    if (page) await page.screenshot({ path: path.join(outDir, screenshot), fullPage: true, animations: 'disabled' });
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
