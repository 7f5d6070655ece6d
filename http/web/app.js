// pgexport web page: a filter form that creates export jobs and a live list of the jobs.
// Plain JavaScript, no dependencies. The API is described in /api/openapi.json.
'use strict';

(() => {
  const KEY_STORAGE = 'pgexport.apiKey';
  const FAST_POLL_MS = 1000; // while a job is queued or running and not followed by its events
  const MAX_STREAMS = 3; // event streams open at once: each holds one of the browser's few connections
  const SLOW_POLL_MS = 5000; // otherwise
  const HIDDEN_POLL_MS = 15000; // while the tab is hidden and nothing is active

  const $ = (id) => document.getElementById(id);
  const form = $('export-form');
  const exportButton = $('export-button');
  const formError = $('form-error');
  const formStatus = $('form-status');
  const keyInput = $('api-key');
  const jobsList = $('jobs');
  const jobsEmpty = $('jobs-empty');
  const jobsError = $('jobs-error');
  const refreshNote = $('refresh-note');
  const preview = $('request-preview');

  // ---------- API key ----------

  // The key lives in this tab's session storage: it survives a reload, and goes when the tab closes
  // (local storage would keep it on disk for every later visitor of this browser profile).
  function storedKey() {
    try {
      localStorage.removeItem(KEY_STORAGE); // where versions before kept it
      return sessionStorage.getItem(KEY_STORAGE) || '';
    } catch {
      return '';
    }
  }

  function apiKey() {
    return keyInput.value.trim();
  }

  function saveKey() {
    try {
      if (apiKey()) sessionStorage.setItem(KEY_STORAGE, apiKey());
      else sessionStorage.removeItem(KEY_STORAGE);
    } catch {
      /* storage may be disabled; the key still works for this page */
    }
  }

  keyInput.value = storedKey();
  let keyTimer = null;
  keyInput.addEventListener('input', () => {
    saveKey();
    clearTimeout(keyTimer);
    keyTimer = setTimeout(refreshAll, 400);
  });
  $('apikey-form').addEventListener('submit', (e) => {
    e.preventDefault();
    refreshAll();
  });
  $('api-key-clear').addEventListener('click', () => {
    keyInput.value = '';
    saveKey();
    keyInput.focus();
    refreshAll();
  });

  // The job list, and the form too when it could not be built yet (a key was missing, say).
  function refreshAll() {
    if (!schema) loadSchema();
    return refreshNow();
  }

  // ---------- API calls ----------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function authHeaders(extra) {
    const headers = Object.assign({}, extra);
    if (apiKey()) headers.Authorization = 'Bearer ' + apiKey();
    return headers;
  }

  // Turns a failed response into an ApiError carrying the API's own words.
  async function errorFrom(res) {
    let code = 'http_' + res.status;
    let message = '';
    try {
      const body = await res.json();
      if (body && body.error) {
        code = body.error.code || code;
        message = body.error.message || '';
      }
    } catch {
      /* not JSON */
    }
    if (res.status === 401) {
      message = apiKey()
        ? 'The API key was not accepted. Check the key in the “API key” field at the top and try again.'
        : 'This server needs an API key. Enter it in the “API key” field at the top and try again.';
    } else if (!message) {
      message = 'The server answered ' + res.status + ' ' + (res.statusText || '') + '.';
    }
    return new ApiError(res.status, code, message.trim());
  }

  async function api(method, path, body) {
    const init = { method, headers: authHeaders({ Accept: 'application/json' }), cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch {
      throw new ApiError(0, 'network', 'The server could not be reached. Is pgexport still running?');
    }
    if (!res.ok) throw await errorFrom(res);
    return res.status === 204 ? null : res.json();
  }

  // ---------- the form, built from GET /api/schema ----------

  // The form follows the served table: one filter control per column, chosen by its type and the
  // operators the schema allows, the column list, a table picker when the server has several tables, and
  // the export options the server offers (each only when it has a choice).
  const NUMERIC = new Set(['smallint', 'integer', 'bigint', 'numeric', 'real', 'double precision']);
  const TIMESTAMP_TZ = 'timestamp with time zone';
  const TIMESTAMP = 'timestamp without time zone';
  const tableField = $('table-field');
  const tablePicker = $('f-table');
  const tableName = $('table-name');
  const filtersBox = $('filters');
  const columnsBox = $('f-columns');
  const optionsBox = $('options');
  const schemaError = $('schema-error');
  let schema = null; // the /api/schema answer for the chosen table; null until loaded
  let filters = []; // { column, read() → { value } | { problem, input } | {}, error: <p> }
  let optionReaders = []; // () → [field, value] to add to the body, or null

  function kindOf(col) {
    const ops = new Set(col.operators);
    const range = ops.has('gte') && ops.has('lte') && ops.has('lt');
    if (Array.isArray(col.values) && col.values.length && ops.has('eq')) return 'choice';
    if (col.type === 'boolean' && ops.has('eq')) return 'boolean';
    if (NUMERIC.has(col.type) && range) return 'number';
    if ((col.type === TIMESTAMP_TZ || col.type === TIMESTAMP) && range) return 'timestamp';
    if (col.type === 'date' && range) return 'date';
    if (ops.has('eq')) return 'text';
    return null; // no operator a form can offer (json, say): the column can still be exported
  }

  // A field's error, shown right under its control and announced.
  function fieldError(id) {
    return el('p', { class: 'field-error', id, 'aria-live': 'polite', 'data-testid': 'field-error' });
  }

  function input(id, attrs, errorId) {
    return el('input', Object.assign({ id, 'aria-describedby': errorId }, attrs));
  }

  // "2024-01-31", "2024-01-31 12:30", "2024-01-31T12:30:15.5" (UTC; a trailing Z is allowed) → ISO 8601.
  function timestampText(text, withZone, dateOnly) {
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?)?\s*(?:Z|UTC)?$/i.exec(text);
    if (!m || (dateOnly && m[4] !== undefined)) return null;
    const [y, mo, d, h = '00', mi = '00', s = '00', frac = ''] = m.slice(1);
    const t = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s));
    if (t.getUTCFullYear() !== +y || t.getUTCMonth() !== +mo - 1 || t.getUTCDate() !== +d || +h > 23 || +mi > 59 || +s > 59)
      return null;
    if (dateOnly) return `${y}-${mo}-${d}`;
    return `${y}-${mo}-${d}T${h}:${mi}:${s}${frac}` + (withZone ? 'Z' : '');
  }

  // A number input's value for the API: a JSON number when that is exact, else the text (a bigint beyond
  // 2^53, or "10.50" whose digits matter to numeric), which PostgreSQL reads as the column's type.
  function numberValue(text) {
    const n = Number(text);
    return String(n) === text && (!Number.isInteger(n) || Number.isSafeInteger(n)) ? n : text;
  }

  function buildFilter(col, i) {
    const kind = kindOf(col);
    if (!kind) return null;
    const id = 'f-' + i;
    const errorId = 'err-' + i;
    const error = fieldError(errorId);
    const typeNote = el('span', { class: 'legend-note', text: ' ' + col.type + (kind === 'timestamp' && col.type === TIMESTAMP_TZ ? ', UTC' : '') });
    if (kind === 'choice' || kind === 'boolean') {
      const select = el('select', { id, 'aria-describedby': errorId, 'data-column': col.name, 'data-kind': kind });
      select.append(el('option', { value: '', text: 'Any' }));
      for (const v of kind === 'boolean' ? ['true', 'false'] : col.values) select.append(el('option', { value: v, text: v }));
      const box = el('div', { class: 'field', 'data-column': col.name }, el('label', { for: id }, col.name, typeNote), select, error);
      const read = () => (select.value === '' ? {} : { value: kind === 'boolean' ? select.value === 'true' : select.value });
      return { column: col.name, box, read, error };
    }
    if (kind === 'text') {
      const field = input(id, { type: 'text', placeholder: 'equals (empty: any)', spellcheck: 'false', 'data-column': col.name, 'data-kind': kind }, errorId);
      const box = el('div', { class: 'field', 'data-column': col.name }, el('label', { for: id }, col.name, typeNote), field, error);
      return { column: col.name, box, read: () => (field.value === '' ? {} : { value: field.value }), error };
    }
    // A range: from (inclusive) and to, inclusive for numbers and dates, exclusive for timestamps.
    const upperOp = kind === 'timestamp' ? 'lt' : 'lte';
    const words = {
      number: ['Minimum (≥)', 'Maximum (≤)'],
      timestamp: ['From (inclusive)', 'Before (exclusive)'],
      date: ['From (inclusive)', 'To (inclusive)'],
    }[kind];
    const attrs = kind === 'number'
      ? { type: 'number', step: 'any', inputmode: 'decimal' }
      : { type: 'text', inputmode: 'numeric', spellcheck: 'false', autocomplete: 'off',
          placeholder: kind === 'date' ? 'YYYY-MM-DD' : 'YYYY-MM-DD hh:mm:ss' };
    const from = input(id + '-from', Object.assign({ 'data-column': col.name, 'data-kind': kind, 'data-bound': 'from' }, attrs), errorId);
    const to = input(id + '-to', Object.assign({ 'data-column': col.name, 'data-kind': kind, 'data-bound': 'to' }, attrs), errorId);
    const pair = el('div', { class: kind === 'number' ? 'pair' : 'pair pair-stack' },
      el('div', { class: 'sub' }, el('label', { for: from.id, text: words[0] }), from),
      el('div', { class: 'sub' }, el('label', { for: to.id, text: words[1] }), to));
    const box = el('fieldset', { class: 'field', 'data-column': col.name }, el('legend', {}, col.name, typeNote), pair, error);
    const parse = (field) => {
      const text = field.value.trim();
      if (kind === 'number') {
        if (field.validity.badInput) return { problem: 'Not a number.' };
        return text === '' ? {} : { value: numberValue(text) };
      }
      if (text === '') return {};
      const v = timestampText(text, col.type === TIMESTAMP_TZ, kind === 'date');
      if (v !== null) return { value: v };
      return { problem: kind === 'date' ? 'Write a date as YYYY-MM-DD, such as 2024-01-31.'
        : 'Write a time as YYYY-MM-DD hh:mm:ss' + (col.type === TIMESTAMP_TZ ? ' in UTC' : '') + ', such as 2024-01-31 18:30:00.' };
    };
    const read = () => {
      const a = parse(from);
      if (a.problem) return { problem: words[0] + ': ' + a.problem, input: from };
      const b = parse(to);
      if (b.problem) return { problem: words[1] + ': ' + b.problem, input: to };
      if (a.value === undefined && b.value === undefined) return {};
      const cond = {};
      if (a.value !== undefined) cond.gte = a.value;
      if (b.value !== undefined) cond[upperOp] = b.value;
      if (a.value !== undefined && b.value !== undefined) {
        const lower = kind === 'number' ? Number(a.value) : a.value;
        const upper = kind === 'number' ? Number(b.value) : b.value;
        if (upperOp === 'lt' ? lower >= upper : lower > upper)
          return { problem: `“${words[1]}” must be ${upperOp === 'lt' ? 'later than' : 'at least'} “${words[0]}”.`, input: to };
      }
      return { value: cond };
    };
    return { column: col.name, box, read, error };
  }

  function buildOptions(options) {
    optionReaders = [];
    optionsBox.replaceChildren();
    const o = options || {};
    const select = (id, label, values, names) => {
      const s = el('select', { id });
      for (const v of values) s.append(el('option', { value: v, text: (names && names[v]) || v }));
      optionsBox.append(el('div', { class: 'field' }, el('label', { for: id, text: label }), s));
      return s;
    };
    const formats = Array.isArray(o.formats) ? o.formats : ['csv'];
    const formatNames = { csv: 'CSV', jsonl: 'JSON Lines', parquet: 'Parquet' };
    const format = formats.length > 1 ? select('f-format', 'Format', formats, formatNames) : null;
    if (format) optionReaders.push(() => (format.value !== 'csv' ? ['format', format.value] : null));
    const parquetChosen = () => !!format && format.value === 'parquet';
    const compressions = Array.isArray(o.compression) ? o.compression : ['none'];
    if (compressions.length > 1) {
      // gzip does not apply to Parquet, whose pages are compressed inside the file.
      const c = select('f-compression', 'Compression', compressions, { none: 'None', gzip: 'gzip' });
      const field = c.closest('.field');
      const showCompression = () => (field.hidden = parquetChosen());
      if (format) format.addEventListener('change', showCompression);
      optionReaders.push(() => (!field.hidden && c.value !== 'none' ? ['compression', c.value] : null));
    }
    const parquetOptions = o.parquetOptions && typeof o.parquetOptions === 'object' ? o.parquetOptions : null;
    if (parquetOptions && formats.includes('parquet')) {
      // Only what differs from the defaults is sent: {"compression": "zstd", "rowGroupRows": 100000}.
      const box = el('fieldset', { class: 'field', id: 'parquet-options' }, el('legend', { text: 'Parquet options' }));
      const codecs = Array.isArray(parquetOptions.compression) ? parquetOptions.compression : ['zstd'];
      const codec = el('select', { id: 'f-parquet-compression' });
      for (const v of codecs) codec.append(el('option', { value: v, text: { zstd: 'Zstandard', snappy: 'Snappy', none: 'None' }[v] || v }));
      box.append(el('div', { class: 'sub' }, el('label', { for: codec.id, text: 'Page compression' }), codec));
      const bounds = parquetOptions.rowGroupRows || {};
      const rowsDefault = Number(bounds.default) || 100000;
      const rows = el('input', { type: 'number', id: 'f-parquet-rows', step: '1', inputmode: 'numeric', value: String(rowsDefault) });
      if (bounds.min) rows.min = String(bounds.min);
      if (bounds.max) rows.max = String(bounds.max);
      box.append(el('div', { class: 'sub' }, el('label', { for: rows.id, text: 'Rows a row group' }), rows));
      optionsBox.append(box);
      const showParquet = () => (box.hidden = !parquetChosen());
      if (format) format.addEventListener('change', showParquet);
      showParquet();
      optionReaders.push(() => {
        if (box.hidden) return null;
        const parquet = {};
        if (codec.value !== codecs[0]) parquet.compression = codec.value;
        const n = Number(rows.value);
        if (rows.value !== '' && n !== rowsDefault) parquet.rowGroupRows = Number.isInteger(n) ? n : rows.value;
        return Object.keys(parquet).length ? ['parquet', parquet] : null;
      });
    }
    const csvNames = Array.isArray(o.csvOptions) ? o.csvOptions : [];
    if (csvNames.length) {
      // Only what differs from the defaults is sent: {"delimiter": ",", "header": true, "null": "", ...}.
      const box = el('fieldset', { class: 'field', id: 'csv-options' }, el('legend', { text: 'CSV options' }));
      const controls = [];
      const checkbox = (name, label, initial) => {
        const c = el('input', { type: 'checkbox', id: 'f-csv-' + name });
        c.checked = initial;
        box.append(el('label', { class: 'col' }, c, el('span', { text: label })));
        controls.push(() => (c.checked !== initial ? [name, c.checked] : null));
      };
      for (const name of csvNames) {
        if (name === 'delimiter') {
          const s = el('select', { id: 'f-csv-delimiter' });
          for (const [v, t] of [[',', 'comma ,'], [';', 'semicolon ;'], ['\t', 'tab'], ['|', 'bar |']]) s.append(el('option', { value: v, text: t }));
          box.append(el('div', { class: 'sub' }, el('label', { for: s.id, text: 'Delimiter' }), s));
          controls.push(() => (s.value !== ',' ? ['delimiter', s.value] : null));
        } else if (name === 'null') {
          const t = el('input', { type: 'text', id: 'f-csv-null', placeholder: 'empty', spellcheck: 'false' });
          box.append(el('div', { class: 'sub' }, el('label', { for: t.id, text: 'NULL written as' }), t));
          controls.push(() => (t.value !== '' ? ['null', t.value] : null));
        } else if (name === 'header') checkbox('header', 'Header line', true);
        else if (name === 'forceQuote') checkbox('forceQuote', 'Quote every value', false);
        else if (name === 'bom') checkbox('bom', 'Byte order mark (for Excel)', false);
      }
      optionsBox.append(box);
      const showCsv = () => (box.hidden = !!format && format.value !== 'csv');
      if (format) format.addEventListener('change', showCsv);
      optionReaders.push(() => {
        if (box.hidden) return null;
        const csv = {};
        for (const read of controls) {
          const kv = read();
          if (kv) csv[kv[0]] = kv[1];
        }
        return Object.keys(csv).length ? ['csv', csv] : null;
      });
    }
    const maxParallelism = Number(o.maxParallelism) || 1;
    if (maxParallelism > 1) {
      const p = el('input', { type: 'number', id: 'f-parallelism', min: '1', max: String(maxParallelism), step: '1', value: '1', inputmode: 'numeric' });
      optionsBox.append(el('div', { class: 'field' }, el('label', { for: p.id }, 'Parallelism ', el('span', { class: 'legend-note', text: `(1 to ${maxParallelism} connections)` })), p));
      optionReaders.push(() => {
        const n = Number(p.value);
        return Number.isInteger(n) && n > 1 ? ['parallelism', Math.min(n, maxParallelism)] : null;
      });
    }
    const updateButton = () => {
      exportButton.textContent = 'Export to ' + (format ? formatNames[format.value] || format.value : 'CSV');
    };
    if (format) format.addEventListener('change', updateButton);
    updateButton();
  }

  // Rebuilds the form for `s` (a /api/schema answer).
  function buildForm(s) {
    schema = s;
    const tables = Array.isArray(s.tables) ? s.tables : [s.table];
    tableField.hidden = tables.length < 2;
    if (tablePicker.options.length !== tables.length || [...tablePicker.options].some((o, i) => o.value !== tables[i])) {
      tablePicker.replaceChildren(...tables.map((t) => el('option', { value: t, text: t })));
    }
    tablePicker.value = s.table;
    tableName.textContent = s.table;
    document.title = 'pgexport · ' + s.table;

    filters = s.columns.map(buildFilter).filter(Boolean);
    filtersBox.replaceChildren(...filters.map((f) => f.box));
    columnsBox.replaceChildren(
      ...s.columns.map((c) => {
        const box = el('input', { type: 'checkbox', name: 'column', value: c.name });
        box.checked = true;
        return el('label', { class: 'col' }, box, el('span', { text: c.name }));
      }),
    );
    buildOptions(s.options);
    clearProblems();
    updatePreview();
  }

  async function loadSchema(table) {
    try {
      const s = await api('GET', '/api/schema' + (table ? '?table=' + encodeURIComponent(table) : ''));
      schemaError.textContent = '';
      buildForm(s);
    } catch (err) {
      if (err.status === 401) setAuthFailed(true);
      schemaError.textContent = describeError(err, 'The table’s columns could not be loaded') + ' The form offers all rows and columns meanwhile.';
    }
  }

  tablePicker.addEventListener('change', () => loadSchema(tablePicker.value));

  // Reads the form: { body, problems: [{ problem, input, error }] }.
  function readForm() {
    const body = {};
    const problems = [];
    if (!schema) return { body, problems };
    if (schema.tables && schema.tables.length > 1) body.table = schema.table;
    const chosen = {};
    for (const f of filters) {
      const r = f.read();
      if (r.problem) problems.push({ problem: r.problem, input: r.input, error: f.error });
      else if (r.value !== undefined) chosen[f.column] = r.value;
    }
    if (Object.keys(chosen).length) body.filters = chosen;
    const columns = [...columnsBox.querySelectorAll('input[name="column"]:checked')].map((c) => c.value);
    if (columns.length === 0)
      problems.push({ problem: 'Choose at least one column.', input: columnsBox.querySelector('input'), error: $('columns-error') });
    else body.columns = columns;
    for (const read of optionReaders) {
      const kv = read();
      if (kv) body[kv[0]] = kv[1];
    }
    return { body, problems };
  }

  function updatePreview() {
    preview.textContent = JSON.stringify(readForm().body, null, 2);
  }

  function setFormError(text) {
    formError.textContent = text;
    if (text) formStatus.textContent = '';
  }

  function clearProblems() {
    form.querySelectorAll('[aria-invalid="true"]').forEach((e) => e.removeAttribute('aria-invalid'));
    form.querySelectorAll('.field-error').forEach((e) => (e.textContent = ''));
  }

  // Shows each problem under its control and takes the keyboard to the first.
  function showProblems(problems) {
    clearProblems();
    for (const p of problems) {
      if (!p.error.textContent) p.error.textContent = p.problem;
      if (p.input && p.input.type !== 'checkbox') p.input.setAttribute('aria-invalid', 'true');
    }
    const first = problems[0];
    if (first.input) {
      first.input.focus({ preventScroll: true });
      first.input.closest('.field').scrollIntoView({ block: 'center' });
    }
  }

  // An API answer that names a filter's column ("filter \"amount\": ...") is shown at that column too.
  function showApiProblem(err) {
    const m = /filter "([^"]+)"/.exec(err.message || '');
    const f = m && filters.find((x) => x.column === m[1]);
    if (!f) return;
    showProblems([{ problem: err.message, input: f.box.querySelector('input, select'), error: f.error }]);
  }

  form.addEventListener('input', (e) => {
    // An edited control's problem is stale: it is checked again on Export.
    if (e.target.getAttribute('aria-invalid') === 'true') {
      e.target.removeAttribute('aria-invalid');
      const message = e.target.closest('.field') && e.target.closest('.field').querySelector('.field-error');
      if (message) message.textContent = '';
    }
    updatePreview();
  });
  form.addEventListener('change', updatePreview);
  form.addEventListener('reset', () => {
    setTimeout(() => {
      setFormError('');
      clearProblems();
      formStatus.textContent = '';
      updatePreview();
    });
  });
  $('cols-all').addEventListener('click', () => {
    columnsBox.querySelectorAll('input[name="column"]').forEach((c) => (c.checked = true));
    updatePreview();
  });
  $('cols-none').addEventListener('click', () => {
    columnsBox.querySelectorAll('input[name="column"]').forEach((c) => (c.checked = false));
    updatePreview();
  });

  let submitting = false;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (submitting) return;
    const { body, problems } = readForm();
    clearProblems();
    if (problems.length) {
      setFormError('');
      showProblems(problems);
      return;
    }
    submitting = true;
    // aria-busy, not disabled: a disabled button would drop the keyboard focus.
    exportButton.setAttribute('aria-busy', 'true');
    setFormError('');
    formStatus.textContent = 'Starting the export…';
    try {
      const created = await api('POST', '/api/export', body);
      setAuthFailed(false);
      formStatus.textContent = 'Export started (job ' + shortId(created.jobId) + '). Its progress is shown in the job list.';
      pendingJobs.set(created.jobId, Date.now());
      // Followed at once: a short job may end before the list first shows it running.
      if (!streams.has(created.jobId) && streams.size < MAX_STREAMS) follow(created.jobId);
      if (!schema) loadSchema();
      await refreshNow();
    } catch (err) {
      formStatus.textContent = '';
      if (err.status === 401) setAuthFailed(true);
      setFormError(describeError(err, 'The export could not be started'));
      showApiProblem(err);
    } finally {
      submitting = false;
      exportButton.removeAttribute('aria-busy');
    }
  });

  function describeError(err, what) {
    if (!(err instanceof ApiError)) return what + ': ' + String(err && err.message ? err.message : err);
    if (err.status === 401 || err.status === 0) return err.message;
    return what + ': ' + err.message + (err.code ? ' (' + err.code + ')' : '');
  }

  // ---------- formatting ----------

  const numberFormat = new Intl.NumberFormat();
  // Times are shown in UTC, as the form takes them.
  const timeFormat = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
    timeZone: 'UTC', timeZoneName: 'short',
  });

  // The name the server gives the job's file: export-<id>.csv, .jsonl, .csv.gz, .parquet, ...
  function fileName(job) {
    const r = job.request || {};
    return 'export-' + job.jobId + '.' + (r.format || 'csv') + (r.compression === 'gzip' ? '.gz' : '');
  }

  function shortId(id) {
    return String(id || '').slice(0, 8);
  }

  function humanBytes(n) {
    if (!Number.isFinite(n) || n < 0) return '–';
    if (n < 1024) return n + ' B';
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = n;
    let i = -1;
    do {
      v /= 1024;
      i++;
    } while (v >= 1024 && i < units.length - 1);
    return (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ' + units[i];
  }

  function humanTime(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso || '') : timeFormat.format(d);
  }

  function humanDuration(ms) {
    if (!Number.isFinite(ms) || ms < 0) return '';
    const s = ms / 1000;
    if (s < 10) return s.toFixed(1) + ' s';
    if (s < 90) return Math.round(s) + ' s';
    const m = Math.floor(s / 60);
    if (m < 90) return m + ' min ' + Math.round(s - m * 60) + ' s';
    return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
  }

  function percentOf(job) {
    if (job.status === 'completed' || job.status === 'expired') return 100;
    const total = job.totalRowsEstimate;
    if (!total || total <= 0) return 0;
    return Math.max(0, Math.min(100, Math.floor((job.rowsExported / total) * 100)));
  }

  const OP_TEXT = { eq: '=', ne: '≠', gt: '>', gte: '≥', lt: '<', lte: '≤', in: 'in' };
  const OP_ORDER = { eq: 0, in: 1, ne: 2, gt: 3, gte: 4, lt: 5, lte: 6 };

  function valueText(v) {
    if (v === null) return 'null';
    if (Array.isArray(v)) return v.map(valueText).join(', ');
    return String(v);
  }

  // One line describing what a job exports, from the request the API echoes back.
  function requestSummary(request) {
    const parts = [];
    const filters = (request && request.filters) || {};
    for (const [column, cond] of Object.entries(filters)) {
      if (cond === null || typeof cond !== 'object') parts.push(column + ' = ' + valueText(cond));
      else if (Array.isArray(cond)) parts.push(column + ' in ' + valueText(cond));
      else {
        // Lower bounds first, so a range reads "amount ≥ 10, ≤ 500".
        const ops = Object.entries(cond).sort((a, b) => (OP_ORDER[a[0]] ?? 9) - (OP_ORDER[b[0]] ?? 9));
        parts.push(column + ' ' + ops.map(([op, v]) => (OP_TEXT[op] || op) + ' ' + valueText(v)).join(', '));
      }
    }
    let filterText = parts.length ? parts.join(' · ') : 'all rows';
    if (request && request.table) filterText = request.table + ': ' + filterText;
    const columns = request && Array.isArray(request.columns) ? request.columns : null;
    const columnText = columns && columns.length ? columns.join(', ') : 'all columns';
    return { filterText, columnText };
  }

  // ---------- the job list ----------

  const rows = new Map(); // jobId → { el, parts }
  const pendingJobs = new Map(); // jobId → when it was created here (it may not be listed yet)
  let authFailed = false;
  function setAuthFailed(failed) {
    authFailed = failed;
    if (failed) keyInput.setAttribute('aria-invalid', 'true');
    else keyInput.removeAttribute('aria-invalid');
  }
  let lastJobs = [];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c) node.append(c);
    return node;
  }

  function createRow(job) {
    const id = job.jobId;
    const badge = el('span', { class: 'badge' });
    const idText = el('code', { class: 'job-id', title: id, text: shortId(id) });
    const created = el('time', { class: 'job-time' });
    const actions = el('div', { class: 'job-actions' });
    const head = el('div', { class: 'job-head' }, badge, el('span', { class: 'job-title' }, 'Job ', idText), created, actions);

    const filters = el('p', { class: 'job-filters' });
    const columns = el('p', { class: 'job-columns' });

    const fill = el('div', { class: 'progress-fill' });
    const progress = el(
      'div',
      {
        class: 'progress',
        role: 'progressbar',
        'data-testid': 'progress',
        'aria-valuemin': '0',
        'aria-valuemax': '100',
        'aria-label': 'Progress of job ' + shortId(id),
      },
      fill,
    );
    const percent = el('span', { class: 'progress-text', 'aria-hidden': 'true' });
    const progressRow = el('div', { class: 'progress-row' }, progress, percent);

    const stats = el('dl', { class: 'job-stats' });
    const error = el('p', { class: 'job-error' });
    error.hidden = true;

    // tabindex -1: focus can land on the row when its focused button goes away (a cancel).
    const li = el('li', { class: 'job', 'data-testid': 'job-row', 'data-job-id': id, tabindex: '-1' }, head, filters, columns, progressRow, stats, error);
    const parts = { badge, created, actions, filters, columns, progress, fill, percent, stats, error, state: {} };
    return { el: li, parts };
  }

  function stat(dl, label, value) {
    dl.append(el('div', { class: 'stat' }, el('dt', { text: label }), el('dd', { text: value })));
  }

  // Updates a row in place so that focus and hover survive the polling.
  function updateRow(row, job) {
    const p = row.parts;
    const li = row.el;
    const status = job.status;
    li.dataset.status = status;
    li.className = 'job job-' + status;

    p.badge.className = 'badge badge-' + status;
    p.badge.textContent = status;

    p.created.dateTime = job.createdAt || '';
    p.created.textContent = humanTime(job.createdAt);
    p.created.title = (job.createdAt || '') + ' (UTC)';

    const summary = requestSummary(job.request);
    p.filters.textContent = summary.filterText;
    p.columns.textContent = 'Columns: ' + summary.columnText;

    const pct = percentOf(job);
    p.progress.setAttribute('aria-valuenow', String(pct));
    const total = job.totalRowsEstimate;
    p.progress.setAttribute(
      'aria-valuetext',
      pct + '%' + (status === 'completed' ? ', completed' : total ? ', ' + job.rowsExported + ' of about ' + total + ' rows' : ''),
    );
    p.fill.style.width = pct + '%';
    p.percent.textContent = pct + '%';

    p.stats.replaceChildren();
    const rowsText =
      status === 'completed' || !total || job.rowsExported > total
        ? numberFormat.format(job.rowsExported || 0)
        : numberFormat.format(job.rowsExported || 0) + ' of ~' + numberFormat.format(total);
    stat(p.stats, 'Rows', rowsText);
    stat(p.stats, 'Size', humanBytes(job.bytesWritten || 0));
    if (job.startedAt) {
      const end = job.finishedAt ? new Date(job.finishedAt) : new Date();
      const took = humanDuration(end - new Date(job.startedAt));
      if (took) stat(p.stats, job.finishedAt ? 'Took' : 'Running for', took);
    }
    if (job.attempts > 1) stat(p.stats, 'Attempts', String(job.attempts));

    if (status === 'failed') {
      p.error.hidden = false;
      p.error.textContent = 'Failed: ' + (job.error || 'no reason was given');
    } else if (job.error && status !== 'completed') {
      p.error.hidden = false;
      p.error.textContent = job.error;
    } else {
      p.error.hidden = true;
      p.error.textContent = '';
    }

    // Actions change only when the status does, so a focused button is not replaced needlessly.
    const actionKey = status + '|' + (job.downloadUrl || '');
    if (p.state.actionKey !== actionKey) {
      const hadFocus = p.actions.contains(document.activeElement);
      p.state.actionKey = actionKey;
      p.actions.replaceChildren();
      if (status === 'completed' && job.downloadUrl) {
        const link = el('a', {
          class: 'btn btn-small btn-primary',
          href: job.downloadUrl,
          download: fileName(job),
          'data-testid': 'download-link',
          'aria-label': 'Download the file of job ' + shortId(job.jobId),
        });
        link.textContent = 'Download';
        link.addEventListener('click', (e) => onDownload(e, job, link));
        p.actions.append(link);
      } else if (status === 'queued' || status === 'running') {
        const button = el('button', {
          type: 'button',
          class: 'btn btn-small btn-danger',
          'data-testid': 'cancel-button',
          'aria-label': 'Cancel job ' + shortId(job.jobId),
        });
        button.textContent = 'Cancel';
        button.addEventListener('click', () => onCancel(job.jobId, button));
        p.actions.append(button);
      }
      if (hadFocus) {
        const next = p.actions.querySelector('a,button');
        (next || row.el).focus();
      }
    }
  }

  function render(jobs) {
    const seen = new Set();
    let cursor = jobsList.firstElementChild;
    for (const job of jobs) {
      seen.add(job.jobId);
      let row = rows.get(job.jobId);
      if (!row) {
        row = createRow(job);
        rows.set(job.jobId, row);
      }
      updateRow(row, job);
      if (row.el !== cursor) jobsList.insertBefore(row.el, cursor);
      else cursor = cursor.nextElementSibling;
    }
    for (const [id, row] of rows)
      if (!seen.has(id)) {
        row.el.remove();
        rows.delete(id);
      }
    jobsEmpty.hidden = jobs.length > 0 || authFailed;
  }

  async function onCancel(jobId, button) {
    // aria-disabled rather than disabled: a disabled button would drop the keyboard focus.
    if (button.getAttribute('aria-disabled') === 'true') return;
    button.setAttribute('aria-disabled', 'true');
    button.textContent = 'Cancelling…';
    try {
      // 204 (no body): the job had ended before the cancel arrived, and DELETE removed it.
      const answer = await api('DELETE', '/api/export/' + encodeURIComponent(jobId));
      jobsError.textContent = '';
      formStatus.textContent =
        'Job ' + shortId(jobId) + (answer === null ? ' had already ended and was deleted.' : ' was cancelled.');
    } catch (err) {
      if (err.status === 401) {
        setAuthFailed(true);
        setFormError(err.message);
      } else {
        jobsError.textContent = describeError(err, 'Job ' + shortId(jobId) + ' could not be cancelled');
      }
      button.removeAttribute('aria-disabled');
      button.textContent = 'Cancel';
    }
    refreshNow();
  }

  // Without a key the link is a plain download. With one, the file is fetched with the
  // Authorization header and saved from a Blob, since a link cannot send headers.
  async function onDownload(event, job, link) {
    if (!apiKey()) return;
    event.preventDefault();
    if (link.getAttribute('aria-busy') === 'true') return;
    link.setAttribute('aria-busy', 'true');
    const label = link.textContent;
    link.textContent = 'Downloading…';
    try {
      let res;
      try {
        res = await fetch(job.downloadUrl, { headers: authHeaders(), cache: 'no-store' });
      } catch {
        throw new ApiError(0, 'network', 'The server could not be reached. Is pgexport still running?');
      }
      if (!res.ok) throw await errorFrom(res);
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const save = el('a', { href: url, download: fileName(job) });
      save.hidden = true;
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      jobsError.textContent = '';
    } catch (err) {
      if (err.status === 401) {
        setAuthFailed(true);
        setFormError(err.message);
      } else {
        jobsError.textContent = describeError(err, 'The file of job ' + shortId(job.jobId) + ' could not be downloaded');
      }
    } finally {
      link.textContent = label;
      link.removeAttribute('aria-busy');
    }
  }

  // ---------- live progress: the server's events ----------

  // A queued or running job follows GET /api/export/{id}/events: each status as it changes, without
  // polling. Read with fetch, since EventSource cannot send the API key. A job whose stream cannot be
  // had (an older server, a broken connection) is left to the list's fast polling.
  const streams = new Map(); // jobId → AbortController
  const noEvents = new Set(); // jobs whose stream failed: polled instead

  function applyJob(job) {
    const i = lastJobs.findIndex((j) => j.jobId === job.jobId);
    if (i >= 0) lastJobs[i] = job;
    const row = rows.get(job.jobId);
    if (row) updateRow(row, job);
  }

  // Reads one job's stream; true when it ended with the job's final event.
  async function readEvents(jobId, signal) {
    const res = await fetch('/api/export/' + encodeURIComponent(jobId) + '/events', {
      headers: authHeaders({ Accept: 'text/event-stream' }),
      cache: 'no-store',
      signal,
    });
    if (!res.ok || !res.body) return false;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      buffer += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) name = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (!data.length) continue; // a ping
        applyJob(JSON.parse(data.join('\n')));
        if (name !== 'progress') return true; // completed, failed, cancelled, ...
      }
    }
  }

  function follow(jobId) {
    const controller = new AbortController();
    streams.set(jobId, controller);
    readEvents(jobId, controller.signal)
      .catch(() => false)
      .then((ended) => {
        if (streams.get(jobId) !== controller) return;
        streams.delete(jobId);
        if (!ended && !controller.signal.aborted) noEvents.add(jobId);
        refreshNow();
      });
  }

  // Streams for the active jobs (a few at most), none for the others.
  function syncStreams(jobs) {
    const active = new Set(jobs.filter((j) => j.status === 'queued' || j.status === 'running').map((j) => j.jobId));
    for (const [id, controller] of streams)
      if (!active.has(id) && !pendingJobs.has(id)) { // a job created here may not be listed yet
        streams.delete(id);
        controller.abort();
      }
    for (const id of active) if (!streams.has(id) && !noEvents.has(id) && streams.size < MAX_STREAMS) follow(id);
  }

  // ---------- polling ----------

  let pollTimer = null;
  let inFlight = null;

  async function poll() {
    clearTimeout(pollTimer);
    try {
      const jobs = await api('GET', '/api/export');
      lastJobs = Array.isArray(jobs) ? jobs : [];
      for (const j of lastJobs) pendingJobs.delete(j.jobId);
      for (const [id, since] of pendingJobs) if (Date.now() - since > 10000) pendingJobs.delete(id);
      if (authFailed) setFormError('');
      setAuthFailed(false);
      jobsError.textContent = '';
      render(lastJobs);
      syncStreams(lastJobs);
    } catch (err) {
      if (err.status === 401) {
        setAuthFailed(true);
        jobsError.textContent = 'The job list needs a valid API key.';
        setFormError(err.message);
        render([]);
        syncStreams([]);
      } else {
        jobsError.textContent = describeError(err, 'The job list could not be loaded');
      }
    }
    schedule();
  }

  function schedule() {
    clearTimeout(pollTimer);
    // Fast while a job is active that no stream follows (or one just created is not listed yet).
    const unfollowed = lastJobs.some((j) => (j.status === 'queued' || j.status === 'running') && !streams.has(j.jobId));
    const active = unfollowed || pendingJobs.size > 0;
    const delay = active ? FAST_POLL_MS : document.hidden ? HIDDEN_POLL_MS : SLOW_POLL_MS;
    refreshNote.textContent = active ? 'Live · every second' : 'Live';
    pollTimer = setTimeout(refreshNow, delay);
  }

  // Loads the list now (joining a load already under way).
  function refreshNow() {
    if (!inFlight) inFlight = poll().finally(() => (inFlight = null));
    return inFlight;
  }

  $('refresh-button').addEventListener('click', refreshNow);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refreshNow();
  });

  updatePreview();
  loadSchema();
  refreshNow();
})();
