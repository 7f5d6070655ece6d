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

  function storedKey() {
    try {
      return localStorage.getItem(KEY_STORAGE) || '';
    } catch {
      return '';
    }
  }

  function apiKey() {
    return keyInput.value.trim();
  }

  function saveKey() {
    try {
      if (apiKey()) localStorage.setItem(KEY_STORAGE, apiKey());
      else localStorage.removeItem(KEY_STORAGE);
    } catch {
      /* storage may be disabled; the key still works for this page */
    }
  }

  keyInput.value = storedKey();
  let keyTimer = null;
  keyInput.addEventListener('input', () => {
    saveKey();
    clearTimeout(keyTimer);
    keyTimer = setTimeout(refreshNow, 400);
  });
  $('apikey-form').addEventListener('submit', (e) => {
    e.preventDefault();
    refreshNow();
  });
  $('api-key-clear').addEventListener('click', () => {
    keyInput.value = '';
    saveKey();
    keyInput.focus();
    refreshNow();
  });

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

  // ---------- the form ----------

  // "2024-01-31T12:30" or "2024-01-31T12:30:15" (a datetime-local value, read as UTC) → ISO 8601 with Z.
  function utcIso(value) {
    if (!value) return null;
    const withSeconds = /T\d\d:\d\d$/.test(value) ? value + ':00' : value;
    return withSeconds + 'Z';
  }

  function numberOrNull(input) {
    if (input.value.trim() === '') return null;
    const n = Number(input.value);
    return Number.isFinite(n) ? n : NaN;
  }

  // Reads the form: { body, problem } where problem is a sentence when the input cannot be sent.
  function readForm() {
    const filters = {};
    const category = $('f-category').value;
    if (category) filters.category = category;

    const statuses = [...form.querySelectorAll('input[name="status"]:checked')].map((c) => c.value);
    if (statuses.length) filters.status = statuses;

    const from = utcIso($('f-created-from').value);
    const to = utcIso($('f-created-to').value);
    if (from || to) {
      filters.created_at = {};
      if (from) filters.created_at.gte = from;
      if (to) filters.created_at.lt = to;
    }

    const minInput = $('f-amount-min');
    const maxInput = $('f-amount-max');
    const min = numberOrNull(minInput);
    const max = numberOrNull(maxInput);
    let problem = null;
    let problemField = null;
    if (Number.isNaN(min) || minInput.validity.badInput) {
      problem = 'The minimum amount is not a number.';
      problemField = minInput;
    } else if (Number.isNaN(max) || maxInput.validity.badInput) {
      problem = 'The maximum amount is not a number.';
      problemField = maxInput;
    } else if (min !== null || max !== null) {
      filters.amount = {};
      if (min !== null) filters.amount.gte = min;
      if (max !== null) filters.amount.lte = max;
      if (min !== null && max !== null && min > max) {
        problem = 'The minimum amount is larger than the maximum.';
        problemField = maxInput;
      }
    }
    if (!problem && from && to && from >= to) {
      problem = 'The “Before” time must be later than the “From” time.';
      problemField = $('f-created-to');
    }

    const columns = [...form.querySelectorAll('input[name="column"]:checked')].map((c) => c.value);
    if (!problem && columns.length === 0) {
      problem = 'Choose at least one column.';
      problemField = form.querySelector('input[name="column"]');
    }

    const body = {};
    if (Object.keys(filters).length) body.filters = filters;
    if (columns.length) body.columns = columns;
    return { body, problem, problemField };
  }

  function updatePreview() {
    preview.textContent = JSON.stringify(readForm().body, null, 2);
  }

  function setFormError(text) {
    formError.textContent = text;
    if (text) formStatus.textContent = '';
  }

  form.addEventListener('input', updatePreview);
  form.addEventListener('change', updatePreview);
  form.addEventListener('reset', () => {
    setTimeout(() => {
      setFormError('');
      formStatus.textContent = '';
      updatePreview();
    });
  });
  $('cols-all').addEventListener('click', () => {
    form.querySelectorAll('input[name="column"]').forEach((c) => (c.checked = true));
    updatePreview();
  });
  $('cols-none').addEventListener('click', () => {
    form.querySelectorAll('input[name="column"]').forEach((c) => (c.checked = false));
    updatePreview();
  });

  let submitting = false;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (submitting) return;
    const { body, problem, problemField } = readForm();
    form.querySelectorAll('[aria-invalid="true"]').forEach((e) => e.removeAttribute('aria-invalid'));
    if (problem) {
      setFormError(problem);
      if (problemField) {
        if (problemField.type !== 'checkbox') problemField.setAttribute('aria-invalid', 'true');
        problemField.focus();
      }
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
      await refreshNow();
    } catch (err) {
      formStatus.textContent = '';
      if (err.status === 401) setAuthFailed(true);
      setFormError(describeError(err, 'The export could not be started'));
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
  const timeFormat = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });

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
    const filterText = parts.length ? parts.join(' · ') : 'all rows';
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
          download: 'export-' + job.jobId + '.csv',
          'data-testid': 'download-link',
          'aria-label': 'Download the CSV of job ' + shortId(job.jobId),
        });
        link.textContent = 'Download CSV';
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
      const save = el('a', { href: url, download: 'export-' + job.jobId + '.csv' });
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
      if (!active.has(id)) {
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
  refreshNow();
})();
