// The operator console: plain JavaScript served by the node, no build step, nothing
// fetched from elsewhere. It talks to the HTTP API with the token in an Authorization
// header; the only URL that carries the token is the event stream's (?token=), since a
// browser's EventSource cannot send headers.
'use strict';

const TOKEN_KEY = 'chargeledger.token';
const TERMINAL = new Set(['accepted', 'rejected', 'timed_out', 'expired', 'failed']);
// Every event type the log holds; the stream names each event by its type.
const EVENT_TYPES = [
  'StationBooted', 'CommandRequested', 'RemoteStartRequested', 'RemoteStopRequested',
  'UnlockConnectorRequested', 'ResetRequested', 'AvailabilityChangeRequested',
  'TriggerMessageRequested', 'CommandDispatched', 'CommandAccepted', 'CommandRejected',
  'CommandTimedOut', 'CommandExpired', 'CommandFailed', 'TransactionStarted',
  'MeterValuesRecorded', 'TransactionStopped', 'TransactionAbandoned', 'TransactionClosed',
  'ClearCacheRequested', 'GetConfigurationRequested', 'ChangeConfigurationRequested',
  'DataTransferRequested', 'UpdateFirmwareRequested', 'GetDiagnosticsRequested',
  'GetLocalListVersionRequested', 'SendLocalListRequested', 'ReserveNowRequested',
  'CancelReservationRequested', 'SetChargingProfileRequested', 'ClearChargingProfileRequested',
  'GetCompositeScheduleRequested', 'ReservationConfirmed', 'ReservationChangeRefused',
  'ReservationEnded', 'LocalListInstalled', 'LocalListOutOfSync', 'message',
  // Not in the log: the node names the stations whose twin changed (connection, status,
  // boot, reports, meter readings), or null for "any".
  'StationTelemetry',
];
// The stream brings telemetry changes too; a page showing telemetry also re-reads it at
// this pace, in case one was missed (a heartbeat, say, is not announced).
const TELEMETRY_REFRESH_MS = 10000;

// ---------------------------------------------------------------- small helpers

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'text') el.textContent = value;
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function fmtTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

function age(iso) {
  if (!iso) return '';
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return `${Math.max(0, seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

function duration(from, to) {
  if (!from) return '—';
  const seconds = Math.round(((to ? new Date(to) : new Date()) - new Date(from)) / 1000);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return `${hours ? hours + ' h ' : ''}${minutes} min ${seconds % 60} s`;
}

// An Idempotency-Key in any browsing context: crypto.randomUUID exists only in secure
// contexts (https or localhost), crypto.getRandomValues everywhere.
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function badge(text, extra) {
  return h('span', { class: `badge ${text || ''} ${extra || ''}`, text: text || '—' });
}

function table(headers, rows, options) {
  const head = h('thead', {}, h('tr', {}, headers.map((title) => h('th', { scope: 'col', text: title }))));
  const body = h('tbody', {}, rows.map((cells) => h('tr', {},
    cells.map((cell, i) => h('td', { 'data-label': headers[i] }, cell)))));
  const caption = options && options.caption ? h('caption', { class: 'hint', text: options.caption }) : null;
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'responsive', id: options && options.id }, caption, head, body));
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// ---------------------------------------------------------------- messages that stay

function showAlert(message, kind) {
  const alerts = document.getElementById('alerts');
  const item = h('div', { class: `alert ${kind || ''}`, role: kind === 'info' ? 'status' : 'alert' },
    h('p', { text: message }),
    h('button', { type: 'button', class: 'secondary', onclick: () => item.remove() }, 'Dismiss'));
  alerts.append(item);
  return item;
}

function showFailure(what, error) {
  showAlert(`${what}: ${error.message}`);
}

class ApiFailure extends Error {
  constructor(status, error, detail) {
    super(`${status} ${error || ''}${detail ? ': ' + detail : ''}`);
    this.status = status;
    this.error = error;
    this.detail = detail;
  }
}

// ---------------------------------------------------------------- the token and the API

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

function takeTokenFromAddress() {
  // `make serve` prints an address with #token=…: keep it for this browser session and
  // take it out of the address bar (and the history) at once.
  const params = new URLSearchParams(location.hash.replace(/^#\/?/, ''));
  const given = params.get('token');
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    history.replaceState(null, '', location.pathname + location.search + '#/overview');
  }
}

async function api(path, options) {
  return (await request(path, options)).body;
}

// Every item of a list, following its Link: <…>; rel="next" pages (RFC 8288).
async function apiAll(path) {
  const items = [];
  let next = path;
  for (let pages = 0; next && pages < 50; pages += 1) {
    const { body, response } = await request(next);
    items.push(...(body || []));
    const link = response.headers.get('Link') || '';
    const match = link.match(/<([^>]+)>\s*;\s*rel="?next"?/);
    next = match ? match[1] : null;
  }
  return items;
}

async function request(path, options) {
  const init = Object.assign({}, options || {});
  init.headers = Object.assign({ Authorization: `Bearer ${token()}` }, init.headers || {});
  if (init.json !== undefined) {
    init.body = JSON.stringify(init.json);
    init.headers['Content-Type'] = 'application/json';
    delete init.json;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiFailure(0, 'Unreachable', 'the node did not answer; is it running?');
  }
  if (response.status === 401) {
    signOut('The node refused the token (401). Enter the API token again.');
    throw new ApiFailure(401, 'Unauthorized', 'sign in again');
  }
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (err) { body = { detail: text }; }
  if (!response.ok) {
    throw new ApiFailure(response.status, body && body.error, body && (body.detail || ''));
  }
  return { body, response };
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  stream.close();
  if (!location.hash.startsWith('#/sign-in')) {
    sessionStorage.setItem('chargeledger.after-sign-in', location.hash || '#/overview');
  }
  if (message) showAlert(message);
  location.hash = '#/sign-in';
}

// ---------------------------------------------------------------- the live event stream

const stream = {
  source: null,
  state: 'down',
  since: null,
  listeners: new Set(),
  retry: null,

  open() {
    this.close();
    if (!token()) return;
    this.setState('connecting');
    const source = new EventSource(`/api/events/stream?token=${encodeURIComponent(token())}`);
    this.source = source;
    source.onopen = () => {
      this.setState('live');
      router.refresh();
    };
    source.onerror = () => {
      this.setState('down');
      if (source.readyState === EventSource.CLOSED) {
        // Not an ordinary drop (the browser retries those itself): try anew shortly.
        clearTimeout(this.retry);
        this.retry = setTimeout(() => { if (this.source === source) this.open(); }, 2000);
      }
    };
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message) => {
        let event;
        try { event = JSON.parse(message.data); } catch (err) { return; }
        if (type === 'StationTelemetry') event.type = type;
        for (const listener of this.listeners) listener(event);
      });
    }
  },

  close() {
    clearTimeout(this.retry);
    if (this.source) this.source.close();
    this.source = null;
  },

  setState(state) {
    const was = this.state;
    this.state = state;
    const line = document.getElementById('stream-state');
    const banner = document.getElementById('stream-banner');
    if (state === 'live') {
      this.since = null;
      line.textContent = 'live';
      line.className = 'stream-state live';
      banner.hidden = true;
      document.body.classList.remove('stale');
    } else if (state === 'down') {
      if (was !== 'down' || !this.since) this.since = new Date().toISOString();
      line.textContent = 'stream lost';
      line.className = 'stream-state down';
      banner.textContent = `Live updates lost at ${fmtTime(this.since)}; reconnecting… ` +
        'What the page shows is as of then and may no longer be true.';
      banner.hidden = false;
      document.body.classList.add('stale');
      // The node may be gone, so nothing can be re-read: mark what is on screen.
      for (const cell of document.querySelectorAll('.connection:not(.stale-mark)')) {
        cell.textContent = `unknown (stream lost; was ${cell.textContent})`;
        cell.className = 'connection warn stale-mark';
      }
      for (const count of document.querySelectorAll('.counts strong')) {
        if (!count.textContent.endsWith('?')) count.textContent += '?';
      }
    } else {
      line.textContent = 'connecting…';
      line.className = 'stream-state';
    }
    if (was !== state) router.rerender();
  },
};

// ---------------------------------------------------------------- command progress

const progress = {
  tracked: new Map(),

  seen: new Map(), // command id -> the log position of its latest event seen on the stream

  track(command) {
    const id = command.command_id;
    // Its events may have come before the 202 did: read it at least up to them.
    if ((this.seen.get(id) || 0) > (command.position || 0)) this.reread(id, this.seen.get(id));
    let entry = this.tracked.get(id);
    if (!entry) {
      const item = h('li', { dataset: { commandId: id } });
      entry = { item, command };
      this.tracked.set(id, entry);
      document.getElementById('progress-list').prepend(item);
      document.getElementById('progress').hidden = false;
    }
    this.show(entry, command);
  },

  show(entry, command) {
    entry.command = command;
    const steps = ['requested'];
    if (command.dispatched_at || command.status === 'dispatched' || TERMINAL.has(command.status)) {
      steps.push('dispatched');
    }
    if (TERMINAL.has(command.status)) steps.push(command.status);
    const why = [];
    if (command.detail) why.push(command.detail);
    if (command.error_code) why.push(`error code ${command.error_code}`);
    if (command.error_description) why.push(command.error_description);
    entry.item.replaceChildren(...[
      h('strong', { text: command.name }), ' on ',
      h('a', { href: `#/station/${encodeURIComponent(command.station_id)}`, text: command.station_id }),
      ' ', h('span', { class: 'command-status', dataset: { status: command.status } }, badge(command.status)),
      ' ', h('span', { class: 'steps', text: steps.join(' → ') }),
      why.length ? h('div', { class: 'command-detail', text: why.join(' · ') }) : null,
      command.result ? h('details', {}, h('summary', {}, "the station's answer"),
        h('pre', { class: 'command-result', text: JSON.stringify(command.result, null, 1) })) : null,
      h('div', { class: 'hint', text: `id ${command.command_id}` }),
      TERMINAL.has(command.status) ? h('button', { type: 'button', class: 'secondary',
        onclick: () => this.forget(command.command_id) }, 'Dismiss') : null].filter(Boolean));
  },

  forget(id) {
    const entry = this.tracked.get(id);
    if (entry) entry.item.remove();
    this.tracked.delete(id);
    if (!this.tracked.size) document.getElementById('progress').hidden = true;
  },

  async reread(id, position) {
    // With the event's position, so that the read model answers as of that event at least.
    const at = position ? `?min_position=${position}` : '';
    try {
      const command = await api(`/api/commands/${encodeURIComponent(id)}${at}`);
      const entry = this.tracked.get(id);
      if (entry && (entry.command.position || 0) <= (command.position || 0)) this.show(entry, command);
    } catch (err) { /* a stream drop shows in the banner; the next event or tick retries */ }
  },

  onEvent(event) {
    const id = commandOf(event);
    if (!id) return;
    this.seen.set(id, Math.max(this.seen.get(id) || 0, event.position || 0));
    if (this.seen.size > 2000) this.seen.delete(this.seen.keys().next().value);
    if (this.tracked.has(id)) this.reread(id, event.position);
  },

  tick() {
    for (const [id, entry] of this.tracked) {
      if (!TERMINAL.has(entry.command.status)) this.reread(id);
    }
  },
};

// The operator command an event belongs to: its data names it (the event's own
// metadata id is derived, e.g. "<command>/accepted").
function commandOf(event) {
  return (event.data && event.data.command_id) || null;
}

async function sendCommand(stationId, name, body) {
  const key = newKey();
  try {
    const command = await api(`/api/stations/${encodeURIComponent(stationId)}/commands/${name}`, {
      method: 'POST', json: body, headers: { 'Idempotency-Key': key } });
    progress.track(command);
    return command;
  } catch (err) {
    if (err.status !== 401) showFailure(`${name} on ${stationId} refused`, err);
    return null;
  }
}

// ---------------------------------------------------------------- forms built from /openapi.json

let openapi = null;

// The operations a station's OCPP version has (every one while its version is not known).
async function commandSchemas(protocol) {
  if (!openapi) {
    const response = await fetch('/openapi.json');
    openapi = await response.json();
  }
  const post = openapi.paths['/api/stations/{station_id}/commands/{name}'].post;
  const nameParam = post.parameters.find((p) => p.name === 'name');
  const names = resolve(nameParam.schema).enum;
  const bodies = post.requestBody.content['application/json'].schema.oneOf;
  const byTitle = new Map(bodies.map((schema) => [schema.title, schema]));
  const title = (name) => name.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('') + 'Body';
  const spoken = (schema) => !protocol || !schema['x-ocpp-versions'] || schema['x-ocpp-versions'].includes(protocol);
  // A field only some versions have (reset's evse_id) carries its own x-ocpp-versions;
  // an enum whose values differ by version (trigger-message's) its x-ocpp-values.
  const ownValues = (p) => (protocol && p['x-ocpp-values'] && p['x-ocpp-values'][protocol]
    ? Object.assign({}, p, { enum: p['x-ocpp-values'][protocol] }) : p);
  const ownFields = (schema) => Object.assign({}, schema, {
    properties: Object.fromEntries(Object.entries(schema.properties || {})
      .filter(([, p]) => spoken(p)).map(([prop, p]) => [prop, ownValues(p)])),
  });
  return names
    .map((name) => ({ name, schema: byTitle.get(title(name)) || { properties: {} } }))
    .filter(({ schema }) => spoken(schema))
    .map(({ name, schema }) => ({ name, schema: ownFields(schema) }));
}

function resolve(schema) {
  if (schema && schema.$ref) {
    const name = schema.$ref.split('/').pop();
    return Object.assign({}, openapi.components.schemas[name], { title: name });
  }
  return schema || {};
}

// A property's schema without the null alternative an optional field carries.
function fieldSchema(property) {
  let schema = resolve(property);
  let nullable = false;
  const alternatives = schema.anyOf || schema.oneOf;
  if (alternatives) {
    const rest = alternatives.filter((s) => s.type !== 'null');
    nullable = rest.length < alternatives.length;
    schema = Object.assign({}, resolve(rest[0]), { description: property.description || rest[0].description });
  }
  return { schema, nullable };
}

function fieldKind(schema) {
  if (schema.enum) return 'enum';
  if (schema.const !== undefined) return 'enum';
  if (schema.type === 'integer' || schema.type === 'number') return 'number';
  if (schema.type === 'boolean') return 'boolean';
  if (schema.type === 'array' && resolve(schema.items).type === 'string') return 'list';
  if (schema.type === 'string' && schema.format === 'date-time') return 'datetime';
  if (schema.type === 'string') return 'string';
  return 'json';
}

function humanize(name) { return name.replace(/_/g, ' '); }

function commandForm(stationId, name, schema, prefix) {
  const required = new Set(schema.required || []);
  const fields = [];
  // The operation's own fields first; ttl_s, common to all, last.
  const properties = Object.entries(schema.properties || {})
    .sort(([a], [b]) => (a === 'ttl_s') - (b === 'ttl_s'));
  const controls = properties.map(([prop, raw]) => {
    const { schema: field } = fieldSchema(raw);
    const kind = fieldKind(field);
    const id = `${prefix}-${name}-${prop}`;
    const hintId = `${id}-hint`;
    const errorId = `${id}-error`;
    let input;
    if (kind === 'enum') {
      const options = field.enum || [field.const];
      input = h('select', { id, name: prop },
        required.has(prop) ? null : h('option', { value: '', text: '(leave out)' }),
        options.map((v) => h('option', { value: String(v), text: String(v) })));
    } else if (kind === 'boolean') {
      input = h('select', { id, name: prop }, h('option', { value: '', text: '(leave out)' }),
        h('option', { value: 'true', text: 'true' }), h('option', { value: 'false', text: 'false' }));
    } else if (kind === 'json') {
      input = h('textarea', { id, name: prop, rows: 4, placeholder: 'JSON object', spellcheck: 'false' });
    } else {
      input = h('input', {
        id, name: prop, type: kind === 'number' ? 'number' : 'text', inputmode: kind === 'number' ? 'decimal' : null,
        step: field.type === 'integer' ? '1' : 'any', autocomplete: 'off',
        placeholder: kind === 'datetime' ? '2026-06-01T18:00:00Z' : kind === 'list' ? 'comma, separated' : null,
      });
    }
    if (required.has(prop)) input.required = true;
    input.setAttribute('aria-describedby', `${hintId} ${errorId}`);
    fields.push({ prop, field, kind, input, errorId, required: required.has(prop) });
    const hint = [field.description, kind === 'datetime' ? 'ISO-8601, e.g. 2026-06-01T18:00:00Z' : null]
      .filter(Boolean).join('; ');
    const label = h('label', { for: id, class: kind === 'json' ? 'wide' : null },
      h('span', {}, humanize(prop), required.has(prop) ? ' (required)' : ''), input,
      h('span', { class: 'hint', id: hintId, text: hint }),
      h('span', { class: 'field-error', id: errorId, 'aria-live': 'polite' }));
    // Every command has a time to live; out of the way unless wanted.
    return prop === 'ttl_s' ? h('details', { class: 'ttl' }, h('summary', {}, 'time to live'), label) : label;
  });
  const form = h('form', { novalidate: true, dataset: { command: name } },
    h('fieldset', {}, h('legend', { text: name }), h('div', { class: 'fields' }, controls),
      h('button', { type: 'submit' }, `Send ${name}`)));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = validateForm(fields);
    if (!body) return;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try { await sendCommand(stationId, name, body); } finally { button.disabled = false; }
  });
  return form;
}

// The body the fields make, or null after marking each field that breaks its schema.
function validateForm(fields) {
  const body = {};
  let firstBad = null;
  for (const f of fields) {
    const raw = f.input.value.trim();
    let problem = null;
    let value;
    if (raw === '') {
      if (f.required) problem = 'required';
    } else if (f.kind === 'number') {
      value = Number(raw);
      const s = f.field;
      if (!Number.isFinite(value)) problem = 'a number';
      else if (s.type === 'integer' && !Number.isInteger(value)) problem = 'a whole number';
      else if (s.minimum !== undefined && value < s.minimum) problem = `at least ${s.minimum}`;
      else if (s.exclusiveMinimum !== undefined && value <= s.exclusiveMinimum) problem = `more than ${s.exclusiveMinimum}`;
      else if (s.maximum !== undefined && value > s.maximum) problem = `at most ${s.maximum}`;
    } else if (f.kind === 'boolean') {
      value = raw === 'true';
    } else if (f.kind === 'datetime') {
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(raw) || Number.isNaN(Date.parse(raw))) {
        problem = 'an ISO-8601 time such as 2026-06-01T18:00:00Z';
      } else value = raw;
    } else if (f.kind === 'list') {
      value = raw.split(',').map((v) => v.trim()).filter(Boolean);
      const items = resolve(f.field.items);
      const bad = value.find((v) => (items.maxLength && v.length > items.maxLength));
      if (bad) problem = `each at most ${items.maxLength} characters`;
    } else if (f.kind === 'json') {
      try {
        value = JSON.parse(raw);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) problem = 'a JSON object';
      } catch (err) { problem = `JSON: ${err.message}`; }
    } else {
      value = raw;
      const s = f.field;
      if (s.minLength && value.length < s.minLength) problem = `at least ${s.minLength} characters`;
      else if (s.maxLength && value.length > s.maxLength) problem = `at most ${s.maxLength} characters`;
      else if (s.pattern && !new RegExp(s.pattern).test(value)) problem = `matching ${s.pattern}`;
    }
    const error = document.getElementById(f.errorId);
    if (problem) {
      f.input.setAttribute('aria-invalid', 'true');
      error.textContent = `${humanize(f.prop)}: ${problem === 'required' ? 'required' : 'must be ' + problem}`;
      if (problem === 'required') error.textContent = `${humanize(f.prop)} is required`;
      const fold = f.input.closest('details');
      if (fold) fold.open = true;
      firstBad = firstBad || f.input;
    } else {
      f.input.removeAttribute('aria-invalid');
      error.textContent = '';
      if (value !== undefined) body[f.prop] = value;
    }
  }
  if (firstBad) { firstBad.focus(); return null; }
  return body;
}

// ---------------------------------------------------------------- a small chart (SVG)

function lineChart(points, label, unit) {
  const width = 640, height = 180, pad = 34;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${label}: ${points.length} readings` +
    (points.length ? `, last ${points[points.length - 1][1]} ${unit}` : ''));
  const el = (tag, attrs, text) => {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text) node.textContent = text;
    svg.append(node);
  };
  if (points.length < 2) {
    el('text', { x: 12, y: 90, fill: '#5b6470' }, points.length ? `${label}: ${points[0][1]} ${unit}` : `${label}: no readings yet`);
    return svg;
  }
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(0, ...ys), y1 = Math.max(...ys) || 1;
  const sx = (x) => pad + ((x - x0) / Math.max(1, x1 - x0)) * (width - 2 * pad);
  const sy = (y) => height - pad + 10 - ((y - y0) / Math.max(1e-9, y1 - y0)) * (height - 2 * pad);
  el('line', { x1: pad, y1: height - pad + 10, x2: width - pad, y2: height - pad + 10, stroke: '#8c96a1' });
  el('text', { x: 4, y: 16, fill: '#1d232a', 'font-size': 12 }, `${label} (${unit}), max ${y1}`);
  el('text', { x: pad, y: height - 4, fill: '#5b6470', 'font-size': 11 }, fmtTime(new Date(x0).toISOString()));
  el('text', { x: width - pad, y: height - 4, fill: '#5b6470', 'font-size': 11, 'text-anchor': 'end' },
    fmtTime(new Date(x1).toISOString()));
  el('polyline', { fill: 'none', stroke: '#0b5cad', 'stroke-width': 2,
    points: points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ') });
  return svg;
}

// Readings a session's meter values carried, as (time, value) by measurand.
function reading(meterValue, measurand) {
  if (!meterValue) return null;
  const sampled = meterValue.sampled_value || meterValue.sampledValue || [];
  for (const s of sampled) {
    const name = s.measurand || 'Energy.Active.Import.Register';
    if (name === measurand) {
      let value = Number(s.value);
      if (s.unit === 'kWh' || s.unit === 'kW') value *= 1000;
      return Number.isFinite(value) ? value : null;
    }
  }
  return null;
}

const samples = new Map(); // "station/tx" -> {energy: [[t, Wh]], power: [[t, W]]}

function sample(session) {
  const key = `${session.station_id}/${session.transaction_id}`;
  const series = samples.get(key) || { energy: [], power: [] };
  samples.set(key, series);
  const last = session.last_meter_value;
  const at = last && last.timestamp ? Date.parse(last.timestamp) : null;
  if (session.started_at && !series.energy.length && session.meter_start !== null && session.meter_start !== undefined) {
    series.energy.push([Date.parse(session.started_at), 0]);
  }
  if (at) {
    const energy = reading(last, 'Energy.Active.Import.Register');
    const power = reading(last, 'Power.Active.Import');
    if (energy !== null && (!series.energy.length || series.energy[series.energy.length - 1][0] < at)) {
      series.energy.push([at, energy - (session.meter_start || 0)]);
    }
    if (power !== null && (!series.power.length || series.power[series.power.length - 1][0] < at)) {
      series.power.push([at, power]);
    }
  }
  if (session.stopped_at && session.energy_wh !== null && session.energy_wh !== undefined) {
    const end = Date.parse(session.stopped_at);
    if (!series.energy.length || series.energy[series.energy.length - 1][0] < end) {
      series.energy.push([end, session.energy_wh]);
    }
  }
  return series;
}

// The node's stored readings of a session, merged with what this page saw live.
function withStoredReadings(series, stored, session) {
  if (!stored || !stored.points) return series;
  const base = session.meter_start || 0;
  const merge = (live, points) => {
    const byTime = new Map(live.map((p) => [p[0], p[1]]));
    for (const [t, v] of points) if (Number.isFinite(t) && v !== null && v !== undefined) byTime.set(t, v);
    return [...byTime.entries()].sort((a, b) => a[0] - b[0]);
  };
  return {
    energy: merge(series.energy, stored.points.map((p) => [Date.parse(p.at), p.energy_wh === null ? null : p.energy_wh - base])),
    power: merge(series.power, stored.points.map((p) => [Date.parse(p.at), p.power_w])),
  };
}

function currentPower(session) {
  return session.status === 'open' ? reading(session.last_meter_value, 'Power.Active.Import') : null;
}

// ---------------------------------------------------------------- pages

const pages = {};

pages['sign-in'] = (view) => {
  const input = h('input', { id: 'token-input', type: 'password', autocomplete: 'off', required: true, size: 40 });
  const form = h('form', { class: 'card' },
    h('h2', { text: 'Sign in' }),
    h('p', { text: 'Enter the API token the node was started with (chargeledger serve --api-token, ' +
      'or the one it printed). It is kept for this browser session only.' }),
    h('label', { for: 'token-input' }, 'API token', input),
    h('p', {}, h('button', { type: 'submit' }, 'Sign in')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    try {
      await api('/api/stations?limit=1');
    } catch (err) {
      if (err.status !== 401) showFailure('Signing in failed', err);
      return;
    }
    stream.open();
    location.hash = sessionStorage.getItem('chargeledger.after-sign-in') || '#/overview';
  });
  view.append(form);
  input.focus();
};

function connectionCell(station) {
  if (stream.state !== 'live') {
    return h('span', { class: 'warn connection', text: `unknown (stream lost; was ${station.connected ? 'connected' : 'offline'})` });
  }
  return h('span', { class: `connection ${station.connected ? 'ok' : 'bad'}`, text: station.connected ? 'connected' : 'offline' });
}

function connectorsCell(station) {
  if (!station.connectors || !station.connectors.length) return '—';
  return h('ul', { class: 'connectors plain' }, station.connectors.map((c) => h('li', {},
    `${c.id}: `, badge(c.status), c.error_code && c.error_code !== 'NoError' ? h('span', { class: 'bad', text: ` ${c.error_code}` }) : null)));
}

function stationFlags(station, open) {
  const statuses = (station.connectors || []).map((c) => c.status);
  return {
    connected: station.connected,
    charging: statuses.includes('Charging') || open.length > 0,
    faulted: statuses.includes('Faulted') || (station.connectors || []).some((c) => c.error_code && c.error_code !== 'NoError'),
    offline: !station.connected,
  };
}

pages.overview = async (view, ctx) => {
  const [stations, sessions] = await Promise.all([apiAll('/api/stations'), apiAll('/api/transactions')]);
  const openBy = new Map();
  for (const s of sessions) {
    if (s.status !== 'open') continue;
    sample(s);
    if (!openBy.has(s.station_id)) openBy.set(s.station_id, []);
    openBy.get(s.station_id).push(s);
  }
  const counts = { connected: 0, charging: 0, faulted: 0, offline: 0 };
  const rows = stations.map((station) => {
    const open = openBy.get(station.id) || [];
    const flags = stationFlags(station, open);
    for (const k of Object.keys(counts)) if (flags[k]) counts[k] += 1;
    return { station, open, flags };
  });
  const query = ctx.params.get('q') || '';
  const filter = ctx.params.get('filter') || 'all';
  const shown = rows.filter(({ station, flags }) => {
    const text = [station.id, station.vendor, station.model, station.serial].filter(Boolean).join(' ').toLowerCase();
    return (!query || text.includes(query.toLowerCase())) && (filter === 'all' || flags[filter]);
  });
  const search = h('input', { id: 'station-search', type: 'search', value: query, autocomplete: 'off' });
  const select = h('select', { id: 'station-filter' },
    ['all', 'connected', 'charging', 'faulted', 'offline'].map((v) => h('option', { value: v, text: v, selected: v === filter })));
  const apply = () => {
    const params = new URLSearchParams();
    if (search.value) params.set('q', search.value);
    if (select.value !== 'all') params.set('filter', select.value);
    history.replaceState(null, '', `#/overview${params.toString() ? '?' + params : ''}`);
    router.refresh();
  };
  search.addEventListener('input', debounce(apply, 250));
  select.addEventListener('change', apply);
  const live = stream.state === 'live';
  view.append(
    h('h2', { text: 'Stations' }),
    h('ul', { class: 'counts live', 'aria-label': 'Counts' }, Object.entries(counts).map(([k, v]) =>
      h('li', { dataset: { count: k } }, h('strong', { text: live ? String(v) : `${v}?` }), k))),
    h('p', { class: 'hint', text: `As of ${fmtTime(new Date().toISOString())}` +
      (live ? '' : ' — the stream is down: connection states are the last known, not current.') }),
    h('div', { class: 'tools' }, h('label', { for: 'station-search' }, 'Search (id, vendor, model, serial)', search),
      h('label', { for: 'station-filter' }, 'Show', select)),
    // Dimmed with the counts when the stream is lost: none of it is known to be current.
    h('div', { class: 'live' }, table(['station', 'connection', 'registration', 'last message', 'connectors', 'open sessions', 'power', 'vendor / model'],
      shown.map(({ station, open }) => {
        const power = open.map(currentPower).filter((p) => p !== null);
        const last = station.last_message_at || station.last_heartbeat;
        return [
          h('a', { href: `#/station/${encodeURIComponent(station.id)}`, text: station.id }),
          connectionCell(station),
          station.registration || '—',
          last ? h('span', { title: fmtTime(last) }, h('time', { datetime: last, dataset: { age: last } }, age(last)), h('span', { class: 'hint', text: station.last_message_at ? '' : ' (heartbeat)' })) : '—',
          connectorsCell(station),
          open.length ? open.map((s) => `#${s.transaction_id} (${s.id_tag})`).join(', ') : '—',
          power.length ? `${(power.reduce((a, b) => a + b, 0) / 1000).toFixed(1)} kW` : '—',
          [station.vendor, station.model].filter(Boolean).join(' / ') || '—',
        ];
      }), { id: 'stations', caption: `${shown.length} of ${stations.length} stations` })));
};
pages.overview.telemetry = true;
pages.overview.onEvent = () => true;

function stationLink(id) { return h('a', { href: `#/station/${encodeURIComponent(id)}`, text: id }); }

function sessionRows(list) {
  return list.map((s) => [
    String(s.transaction_id), stationLink(s.station_id), String(s.connector_id), s.id_tag, badge(s.status),
    fmtTime(s.started_at), s.stopped_at ? fmtTime(s.stopped_at) : '—', duration(s.started_at, s.stopped_at),
    s.energy_wh !== null && s.energy_wh !== undefined ? `${s.energy_wh} Wh` : (s.last_meter_value ? `${reading(s.last_meter_value, 'Energy.Active.Import.Register') - (s.meter_start || 0)} Wh so far` : '—'),
    s.stop_reason || '—', s.remote_start_command_id || '—',
  ]);
}
const SESSION_HEADERS = ['transaction', 'station', 'connector', 'id tag', 'status', 'started', 'stopped',
  'duration', 'energy', 'stop reason', 'started by command'];

pages.station = async (view, ctx) => {
  const id = ctx.arg;
  const enc = encodeURIComponent(id);
  const at = ctx.params.get('at');
  const [station, sessions, reservations, events] = await Promise.all([
    api(`/api/stations/${enc}`),
    apiAll(`/api/transactions?station=${enc}`),
    apiAll(`/api/reservations?station=${enc}`),
    apiAll(`/api/stations/${enc}/events?limit=1000`),
  ]);
  let past = null;
  if (at) past = await api(`/api/stations/${enc}?at=${encodeURIComponent(at)}`);
  const live = stream.state === 'live';
  // The view may not carry the boot's identity: the log's last StationBooted does.
  const boots = events.filter((e) => e.type === 'StationBooted');
  const boot = boots.length ? boots[boots.length - 1].data : {};
  const section = (title, anchor, ...children) => h('section', { 'aria-labelledby': `h-${anchor}` },
    h('h2', { id: `h-${anchor}`, text: title }), ...children);

  // Identity and the twin.
  view.append(h('h2', { class: 'station-title', text: `Station ${id}` }),
    h('nav', { 'aria-label': 'On this page', class: 'hint' }, ['identity', 'past', 'commands', 'sessions',
      'reservations', 'profiles', 'configuration', 'firmware', 'twin', 'timeline'].map((a) => [h('a', { href: `#/station/${enc}`, onclick: (e) => { e.preventDefault(); document.getElementById(`h-${a}`).scrollIntoView(); }, text: a }), ' '])),
    section('Identity and connection', 'identity', h('div', { class: 'grid2' },
      h('dl', { class: 'facts' },
        h('dt', { text: 'connection' }), h('dd', { class: 'live' }, connectionCell(station)),
        h('dt', { text: 'registration' }), h('dd', { text: station.registration || '—' }),
        h('dt', { text: 'vendor' }), h('dd', { text: station.vendor || boot.vendor || '—' }),
        h('dt', { text: 'model' }), h('dd', { text: station.model || boot.model || '—' }),
        h('dt', { text: 'serial' }), h('dd', { text: station.serial || boot.charge_point_serial_number || '—' }),
        h('dt', { text: 'firmware' }), h('dd', { text: firmwareVersion(station, boot) }),
        h('dt', { text: 'booted' }), h('dd', { text: fmtTime(station.last_boot || boot.booted_at) }),
        h('dt', { text: 'protocol' }), h('dd', { text: station.protocol || '—' }),
        h('dt', { text: 'last message' }), h('dd', { text: fmtTime(station.last_message_at) }),
        h('dt', { text: 'last heartbeat' }), h('dd', { text: fmtTime(station.last_heartbeat) }),
        h('dt', { text: 'log version' }), h('dd', { text: String(station.version) })),
      h('div', { class: 'live' }, h('h3', { text: 'Connectors (now)' }),
        table(['connector', 'status', 'error code'], (station.connectors || []).map((c) =>
          [String(c.id), badge(c.status), c.error_code || '—']), { id: 'connectors' }),
        live ? null : h('p', { class: 'warn', text: 'The stream is down: these statuses are the last known.' })))));

  // The past: a slider over the station's log.
  const times = events.map((e) => Date.parse(e.recorded_at)).filter(Number.isFinite);
  const first = times.length ? Math.min(...times) : Date.now();
  const now = Date.now();
  const slider = h('input', { id: 'time-slider', type: 'range', min: String(Math.floor(first / 1000) - 1),
    max: String(Math.ceil(now / 1000)), step: '1', value: String(Math.floor((at ? Date.parse(at) : now) / 1000)),
    'aria-describedby': 'time-slider-value' });
  const picked = h('output', { id: 'time-slider-value', for: 'time-slider',
    text: at ? fmtTime(at) : 'now' });
  const goTo = (seconds) => {
    const iso = new Date(seconds * 1000).toISOString().replace('.000', '');
    history.replaceState(null, '', `#/station/${enc}?at=${encodeURIComponent(iso)}`);
    router.refresh();
  };
  slider.addEventListener('input', () => { picked.textContent = fmtTime(new Date(slider.value * 1000).toISOString()); });
  slider.addEventListener('change', () => goTo(Number(slider.value)));
  const atInput = h('input', { id: 'time-at', type: 'text', value: at || '', placeholder: '2026-06-01T18:00:00Z', size: 22 });
  const pastBox = past ? pastView(past, station, sessions) : h('p', { class: 'hint', text: 'Move the slider (or give a time) to see the station as the log had it then.' });
  view.append(section('The station at a past moment', 'past',
    h('div', { class: 'slider' }, h('label', { for: 'time-slider', class: 'inline' }, 'Time', slider), picked,
      h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); const t = Date.parse(atInput.value); if (Number.isFinite(t)) goTo(t / 1000); else showAlert(`Not a time: ${atInput.value}`); } },
        h('label', { for: 'time-at', class: 'inline' }, 'or at', atInput), ' ', h('button', { type: 'submit', class: 'secondary' }, 'Show')),
      at ? h('button', { type: 'button', class: 'secondary', onclick: () => { history.replaceState(null, '', `#/station/${enc}`); router.refresh(); } }, 'Back to now') : null),
    pastBox));

  // Every operation.
  const forms = await commandSchemas(station.protocol);
  view.append(section('Commands', 'commands',
    h('p', { class: 'hint', text: 'Each form is built from the body schema /openapi.json publishes and checked before it is sent; progress shows under "Commands sent from this page".' }),
    h('div', { class: 'command-forms' }, forms.map(({ name, schema }) => commandForm(id, name, schema, 'cmd')))));

  // Sessions, energy and the chart.
  const ordered = [...sessions].sort((a, b) => b.transaction_id - a.transaction_id);
  const charts = [];
  const recent = ordered.slice(0, 3);
  const stored = await Promise.all(recent.map((s) =>
    api(`/api/transactions/${s.transaction_id}/meter-values`).catch(() => null)));
  recent.forEach((s, index) => {
    const series = withStoredReadings(sample(s), stored[index], s);
    charts.push(h('figure', { dataset: { session: String(s.transaction_id) } },
      h('figcaption', { text: `Session #${s.transaction_id} (${s.status})` }),
      lineChart(series.energy, 'Energy', 'Wh'), series.power.length ? lineChart(series.power, 'Power', 'W') : null));
  });
  view.append(section('Sessions', 'sessions',
    table(SESSION_HEADERS, sessionRows(ordered), { id: 'station-sessions' }),
    h('p', { class: 'hint', text: 'Energy and power of the three newest sessions from their meter values (long sessions are thinned evenly in their older part).' }),
    charts));

  view.append(section('Reservations', 'reservations', table(['id', 'connector', 'id tag', 'expiry', 'status', 'detail'],
    reservations.map((r) => [String(r.reservation_id), String(r.connector_id), r.id_tag, fmtTime(r.expiry_date), badge(r.status), r.detail || '—']))));

  const installed = station.charging_profiles || [];
  view.append(section('Charging profiles and the composite schedule', 'profiles',
    h('h3', { text: 'Installed (as far as the node knows)' }),
    installed.length ? h('pre', { text: JSON.stringify(installed, null, 1) }) : h('p', { class: 'hint', text: 'none' }),
    h('h3', { text: 'Composite schedule' }), compositeSchedule(id)));

  const configuration = station.configuration;
  view.append(section('Configuration keys', 'configuration', configuration
    ? [table(['key', 'value', 'read-only'], configuration.keys.map((k) => [k.key, k.value === null || k.value === undefined ? '—' : String(k.value), k.readonly ? 'yes' : 'no'])),
      configuration.unknown_keys && configuration.unknown_keys.length ? h('p', { text: `Unknown keys: ${configuration.unknown_keys.join(', ')}` }) : null,
      h('p', { class: 'hint', text: `reported ${fmtTime(configuration.reported_at)}` })]
    : h('p', { class: 'hint', text: 'Not reported yet: send get-configuration.' })));

  const history2 = (title, part) => [h('h3', { text: `${title}: ${(part && part.status) || '—'}` }),
    part && part.history && part.history.length ? table(['status', 'at'], part.history.map((e) => [e.status || JSON.stringify(e), fmtTime(e.at || e.timestamp)])) : h('p', { class: 'hint', text: 'no notifications' })];
  view.append(section('Firmware and diagnostics', 'firmware', h('div', { class: 'grid2' },
    h('div', {}, history2('Firmware', station.firmware_update || station.firmware)), h('div', {}, history2('Diagnostics', station.diagnostics)))));

  // The rest of the twin: what the station reported beside its status and heartbeats.
  const rows = (list, cells) => (list && list.length ? [...list].reverse().map(cells) : []);
  const localList = station.local_list;
  view.append(section('The twin: what else the station reported', 'twin', h('div', { class: 'grid2', id: 'twin' },
    h('div', {}, h('h3', { text: 'Connector status changes' }),
      table(['at', 'connector', 'status', 'error code'], rows(station.status_history, (s) => [fmtTime(s.at), String(s.connector_id), badge(s.status), s.error_code]), { id: 'twin-statuses' })),
    h('div', {}, h('h3', { text: 'Authorize requests' }),
      table(['at', 'id tag', 'answer'], rows(station.authorizations, (a) => [fmtTime(a.at), a.id_tag, badge(a.status)]), { id: 'twin-authorizations' })),
    h('div', {}, h('h3', { text: 'DataTransfers from the station' }),
      table(['at', 'vendor', 'message', 'data', 'answer'], rows(station.data_transfers, (d) => [fmtTime(d.at), d.vendor_id, d.message_id || '—', d.data || '—', d.answer]), { id: 'twin-data-transfers' })),
    h('div', {}, h('h3', { text: 'Meter readings outside a session' }),
      table(['connector', 'readings', 'last'], rows(station.meter_values, (m) => [String(m.connector_id), String(m.count), m.last ? fmtTime(m.last.timestamp) : '—']), { id: 'twin-meters' }),
      h('p', { class: 'hint', id: 'twin-local-list', text: localList
        ? `Local list: installed version ${localList.installed_version ?? '—'}, the station reports ${localList.reported_version ?? '—'}; ` +
          (localList.in_sync ? 'in sync' : `not in sync (${localList.out_of_sync_reason || 'unknown'})`)
        : 'Local list: none sent' })))));

  view.append(section('Event timeline', 'timeline', table(['position', 'version', 'recorded', 'type', 'command', 'data'],
    [...events].reverse().map((e) => [String(e.position), String(e.version), fmtTime(e.recorded_at), e.type, e.command_id || '—',
      h('details', {}, h('summary', {}, 'data'), h('pre', { text: JSON.stringify(e.data, null, 1) }))]), { id: 'timeline' })));
};
pages.station.telemetry = true;
pages.station.onEvent = (event, ctx) => event.stream_id === `station-${ctx.arg}` ||
  (event.type === 'StationTelemetry' && (!event.stations || event.stations.includes(ctx.arg)));
pages.station.keepsForms = true;

// The contract's firmware version from the boot, when the view carries it as text (the
// firmware section's object holds the update statuses instead).
function firmwareVersion(station, boot) {
  if (typeof station.firmware === 'string') return station.firmware;
  return station.firmware_version || boot.firmware_version || '—';
}

function pastView(past, station, sessions) {
  // A connector's status then: what the station had reported by that moment (its twin
  // keeps the last changes of status), beside what the log says held it (a session, a
  // reservation).
  const reported = new Map((past.connectors || []).map((c) => [c.connector_id, c]));
  const ids = new Set([...(station.connectors || []).map((c) => c.id), ...reported.keys(),
    ...past.open_transactions.map((t) => t.connector_id), ...past.reservations.map((r) => r.connector_id)]);
  const rows = [...ids].sort((a, b) => a - b).map((cid) => {
    const tx = past.open_transactions.find((t) => t.connector_id === cid);
    const reserved = past.reservations.find((r) => r.connector_id === cid);
    const then = reported.get(cid);
    const fromLog = tx ? `session #${tx.transaction_id} (${tx.id_tag}) open` : reserved ? `reservation ${reserved.reservation_id} (${reserved.id_tag})` : 'no session or reservation held it';
    if (then) {
      return [String(cid), badge(then.status), then.error_code && then.error_code !== 'NoError' ? h('span', { class: 'bad', text: then.error_code }) : (then.error_code || '—'),
        `reported ${fmtTime(then.since)}`, fromLog];
    }
    const guess = tx ? 'Charging' : reserved ? 'Reserved' : null;
    return [String(cid), guess ? badge(guess) : h('span', { class: 'hint', text: 'not known' }), '—',
      guess ? 'from the log' : 'no status reported by then', fromLog];
  });
  const kept = past.kept_from ? `Connector statuses as reported; changes kept since ${fmtTime(past.kept_from)}.` : 'No connector status changes kept for this station.';
  return h('div', { class: 'past', id: 'past-state' },
    h('p', {}, h('strong', { text: `As the log had it at ${fmtTime(past.at)}` }), ` (log version ${past.version})`),
    h('dl', { class: 'facts' }, h('dt', { text: 'registration' }), h('dd', { text: past.registration || '—' })),
    table(['connector', 'status then', 'error code', 'status from', 'the log'], rows, { id: 'past-connectors', caption: kept }),
    h('h3', { text: 'Commands open then' }),
    past.open_commands.length ? table(['command', 'name', 'status'], past.open_commands.map((c) => [c.command_id, c.name, badge(c.status)])) : h('p', { class: 'hint', text: 'none' }));
}

function compositeSchedule(stationId) {
  const box = h('div', { id: 'composite-schedule' }, h('p', { class: 'hint', text: 'Send get-composite-schedule; the station\'s answer shows here.' }));
  api(`/api/commands?station=${encodeURIComponent(stationId)}&name=get-composite-schedule&limit=1`).then((list) => {
    const done = (list || []).find((c) => c.status === 'accepted' && c.result);
    if (done) box.replaceChildren(h('p', { class: 'hint', text: `from command ${done.command_id}, ${fmtTime(done.ended_at)}` }), h('pre', { text: JSON.stringify(done.result, null, 1) }));
  }).catch(() => {
    const sent = [...progress.tracked.values()].map((e) => e.command).find((c) => c.station_id === stationId && c.name === 'get-composite-schedule' && c.result);
    if (sent) box.replaceChildren(h('pre', { text: JSON.stringify(sent.result, null, 1) }));
  });
  return box;
}

pages.sessions = async (view, ctx) => {
  const p = ctx.params;
  const query = new URLSearchParams();
  if (p.get('station')) query.set('station', p.get('station'));
  if (p.get('id_tag')) query.set('id_tag', p.get('id_tag'));
  // "ended" is the console's own choice (stopped, abandoned or closed by hand); the
  // node's status=closed means closed by hand only, so it is not passed on.
  if (p.get('status') === 'open') query.set('status', 'open');
  let list = await apiAll(`/api/transactions${query.toString() ? '?' + query : ''}`);
  // The node may not filter by every field yet: filter here too.
  const from = p.get('from') ? Date.parse(p.get('from')) : null;
  const to = p.get('to') ? Date.parse(p.get('to')) : null;
  list = list.filter((s) => (!p.get('station') || s.station_id === p.get('station'))
    && (!p.get('id_tag') || s.id_tag === p.get('id_tag'))
    && (!p.get('status') || (p.get('status') === 'ended' ? s.status !== 'open' : s.status === p.get('status')))
    && (!from || Date.parse(s.started_at) >= from) && (!to || Date.parse(s.started_at) <= to))
    .sort((a, b) => String(b.started_at).localeCompare(String(a.started_at)));
  const field = (name, label, extra) => h('label', { for: `f-${name}` }, label,
    h('input', Object.assign({ id: `f-${name}`, name, value: p.get(name) || '', autocomplete: 'off' }, extra || {})));
  const form = h('form', { class: 'tools', 'aria-label': 'Filter sessions' },
    field('station', 'Station'), field('id_tag', 'Id tag'),
    h('label', { for: 'f-status' }, 'Status', h('select', { id: 'f-status', name: 'status' },
      [['', 'any'], ['open', 'open'], ['ended', 'ended (stopped, abandoned, closed)']].map(([v, t]) => h('option', { value: v, text: t, selected: (p.get('status') || '') === v })))),
    field('from', 'Started from', { placeholder: '2026-06-01T00:00:00Z' }), field('to', 'Started until', { placeholder: '2026-06-02T00:00:00Z' }),
    h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) next.set(k, v);
    location.hash = `#/sessions${next.toString() ? '?' + next : ''}`;
  });
  const csv = () => {
    const header = ['transaction_id', 'station_id', 'connector_id', 'id_tag', 'status', 'started_at', 'stopped_at', 'duration_s', 'energy_wh', 'stop_reason', 'remote_start_command_id'];
    const quote = (v) => (v === null || v === undefined ? '' : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
    const lines = [header.join(',')].concat(list.map((s) => [s.transaction_id, s.station_id, s.connector_id, s.id_tag, s.status, s.started_at, s.stopped_at,
      s.started_at ? Math.round(((s.stopped_at ? Date.parse(s.stopped_at) : Date.now()) - Date.parse(s.started_at)) / 1000) : '', s.energy_wh, s.stop_reason, s.remote_start_command_id].map(quote).join(',')));
    const url = URL.createObjectURL(new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/csv' }));
    const link = h('a', { href: url, download: 'sessions.csv' });
    document.body.append(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  };
  view.append(h('h2', { text: 'Charging sessions' }), form,
    h('p', {}, h('button', { type: 'button', class: 'secondary', id: 'export-csv', onclick: csv }, `Export ${list.length} as CSV`)),
    table(SESSION_HEADERS, sessionRows(list), { id: 'sessions' }));
};
pages.sessions.onEvent = (event) => String(event.type).startsWith('Transaction');

pages.commands = async (view, ctx) => {
  const p = ctx.params;
  view.append(h('h2', { text: 'Commands' }));
  let list;
  try {
    const query = new URLSearchParams();
    for (const k of ['station', 'status', 'name']) if (p.get(k)) query.set(k, p.get(k));
    query.set('limit', '200');
    list = await api(`/api/commands?${query}`);
  } catch (err) {
    if (err.status === 401) throw err;
    view.append(h('p', { class: 'hint', text: `This node does not list commands (${err.message}); these are the ones sent from this page.` }));
    list = [...progress.tracked.values()].map((e) => e.command);
  }
  view.append(table(['command', 'station', 'name', 'status', 'detail', 'error code', 'requested', 'ended'],
    list.map((c) => [c.command_id, stationLink(c.station_id), c.name, badge(c.status), c.detail || '—', c.error_code || '—', fmtTime(c.requested_at), fmtTime(c.ended_at)]), { id: 'commands' }));
};
pages.commands.onEvent = (event) => Boolean(commandOf(event));

pages['id-tags'] = async (view) => {
  const tags = await apiAll('/api/id-tags');
  const put = async (tag, body, what) => {
    try { await api(`/api/id-tags/${encodeURIComponent(tag)}`, { method: 'PUT', json: body }); router.refresh(); } catch (err) { if (err.status !== 401) showFailure(`${what} ${tag}`, err); }
  };
  const tagInput = h('input', { id: 'tag-id', required: true, maxlength: 20, autocomplete: 'off' });
  const status = h('select', { id: 'tag-status' }, ['Accepted', 'Blocked', 'Expired'].map((s) => h('option', { value: s, text: s })));
  const expiry = h('input', { id: 'tag-expiry', placeholder: '2026-12-31T23:59:59Z', autocomplete: 'off' });
  const form = h('form', { class: 'tools', 'aria-label': 'Add or change an id tag' },
    h('label', { for: 'tag-id' }, 'Id tag', tagInput), h('label', { for: 'tag-status' }, 'Status', status),
    h('label', { for: 'tag-expiry' }, 'Expiry (optional)', expiry), h('button', { type: 'submit' }, 'Save tag'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!tagInput.value.trim()) { tagInput.setAttribute('aria-invalid', 'true'); tagInput.focus(); return; }
    put(tagInput.value.trim(), { status: status.value, expiry: expiry.value.trim() || null }, 'Saving');
  });
  view.append(h('h2', { text: 'Id tags' }), h('p', { class: 'hint', text: 'Authorize and StartTransaction consult these.' }), form,
    table(['id tag', 'status', 'expiry', ''], tags.map((t) => [t.id_tag, badge(t.status), fmtTime(t.expiry), h('span', {},
      h('button', { type: 'button', class: 'secondary', onclick: () => put(t.id_tag, { status: 'Blocked', expiry: t.expiry }, 'Blocking'), 'aria-label': `Block ${t.id_tag}` }, 'Block'), ' ',
      h('button', { type: 'button', class: 'secondary', onclick: () => put(t.id_tag, { status: 'Accepted', expiry: t.expiry }, 'Accepting'), 'aria-label': `Accept ${t.id_tag}` }, 'Accept'), ' ',
      h('button', { type: 'button', class: 'secondary', onclick: () => put(t.id_tag, { status: 'Expired', expiry: t.expiry }, 'Expiring'), 'aria-label': `Expire ${t.id_tag}` }, 'Expire'), ' ',
      h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${t.id_tag}`, onclick: async () => {
        if (!confirm(`Delete id tag ${t.id_tag}?`)) return;
        try { await api(`/api/id-tags/${encodeURIComponent(t.id_tag)}`, { method: 'DELETE' }); router.refresh(); } catch (err) { if (err.status !== 401) showFailure(`Deleting ${t.id_tag}`, err); }
      } }, 'Delete'))]), { id: 'id-tags' }));
};

pages.registry = async (view) => {
  view.append(h('h2', { text: 'Station registry' }),
    h('p', { class: 'hint', text: 'Stations allowed to connect, and which must present a password (HTTP Basic, OCPP security profile 1).' }));
  let stations;
  try {
    stations = await apiAll('/api/registry/stations');
  } catch (err) {
    if (err.status === 404 || err.status === 405) {
      view.append(h('p', { class: 'warn', text: 'This node has no station registry API (GET /api/registry/stations answered ' + err.status + '); use "chargeledger stations".' }));
      return;
    }
    throw err;
  }
  const call = async (what, path, init) => {
    try { await api(path, init); router.refresh(); return true; } catch (err) { if (err.status !== 401) showFailure(what, err); return false; }
  };
  const idInput = h('input', { id: 'registry-id', required: true, maxlength: 48, autocomplete: 'off', pattern: '[A-Za-z0-9*\\-_=:+|@.]{1,48}' });
  const password = h('input', { id: 'registry-password', type: 'password', autocomplete: 'new-password' });
  const form = h('form', { class: 'tools', 'aria-label': 'Add a station' },
    h('label', { for: 'registry-id' }, 'Station id', idInput), h('label', { for: 'registry-password' }, 'Password (optional)', password),
    h('button', { type: 'submit' }, 'Add station'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!/^[A-Za-z0-9*\-_=:+|@.]{1,48}$/.test(idInput.value)) {
      idInput.setAttribute('aria-invalid', 'true');
      showAlert('A station id is 1-48 of A-Z a-z 0-9 * - _ = : + | @ .');
      idInput.focus();
      return;
    }
    call(`Adding ${idInput.value}`, '/api/registry/stations', { method: 'POST', json: { id: idInput.value, password: password.value || null } });
  });
  view.append(form, table(['station', 'password', ''], stations.map((s) => {
    const enc = encodeURIComponent(s.id);
    const pw = h('input', { type: 'password', autocomplete: 'new-password', 'aria-label': `New password for ${s.id}`, size: 14 });
    return [stationLink(s.id), s.has_password ? 'set' : 'none', h('span', {}, pw, ' ',
      h('button', { type: 'button', class: 'secondary', onclick: () => { if (pw.value) call(`Setting the password of ${s.id}`, `/api/registry/stations/${enc}/password`, { method: 'PUT', json: { password: pw.value } }); else showAlert('Type the new password first.'); } }, 'Set password'), ' ',
      s.has_password ? h('button', { type: 'button', class: 'secondary', onclick: () => call(`Removing the password of ${s.id}`, `/api/registry/stations/${enc}/password`, { method: 'PUT', json: { password: null } }) }, 'Remove password') : null, ' ',
      h('button', { type: 'button', class: 'danger', 'aria-label': `Remove ${s.id}`, onclick: () => { if (confirm(`Remove station ${s.id} from the registry?`)) call(`Removing ${s.id}`, `/api/registry/stations/${enc}`, { method: 'DELETE' }); } }, 'Remove'))];
  }), { id: 'registry' }));
};

pages.reservations = async (view, ctx) => {
  const station = ctx.params.get('station') || '';
  const list = await apiAll(`/api/reservations${station ? '?station=' + encodeURIComponent(station) : ''}`);
  const input = h('input', { id: 'res-station', value: station, autocomplete: 'off' });
  const form = h('form', { class: 'tools', 'aria-label': 'Filter reservations' }, h('label', { for: 'res-station' }, 'Station', input), h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (e) => { e.preventDefault(); location.hash = `#/reservations${input.value ? '?station=' + encodeURIComponent(input.value) : ''}`; });
  view.append(h('h2', { text: 'Reservations' }), h('p', { class: 'hint', text: 'Make one with reserve-now on a station page.' }), form,
    table(['id', 'station', 'connector', 'id tag', 'expiry', 'status', 'detail', ''], list.map((r) => [String(r.reservation_id), stationLink(r.station_id), String(r.connector_id), r.id_tag,
      fmtTime(r.expiry_date), badge(r.status), r.detail || '—',
      ['requested', 'active'].includes(r.status) ? h('button', { type: 'button', class: 'secondary', onclick: () => sendCommand(r.station_id, 'cancel-reservation', { reservation_id: r.reservation_id }) }, 'Cancel') : '']), { id: 'reservations' }));
};
pages.reservations.onEvent = (event) => String(event.type).startsWith('Reserv');

const PROFILE_TEMPLATE = { stack_level: 0, charging_profile_purpose: 'TxDefaultProfile', charging_profile_kind: 'Absolute',
  charging_schedule: { charging_rate_unit: 'A', charging_schedule_period: [{ start_period: 0, limit: 32 }] } };

// What the operator typed into the profile form, kept across the page's refreshes.
const profileDraft = { id: '', json: JSON.stringify(PROFILE_TEMPLATE, null, 2) };

pages['charging-profiles'] = async (view) => {
  const list = await apiAll('/api/charging-profiles');
  const idInput = h('input', { id: 'profile-id', type: 'number', min: 1, step: 1, required: true,
    value: profileDraft.id, 'aria-describedby': 'profile-id-error' });
  const text = h('textarea', { id: 'profile-json', rows: 10, spellcheck: 'false' });
  text.value = profileDraft.json;
  idInput.addEventListener('input', () => { profileDraft.id = idInput.value; });
  text.addEventListener('input', () => { profileDraft.json = text.value; });
  const idError = h('span', { class: 'field-error', id: 'profile-id-error', 'aria-live': 'polite' });
  const form = h('form', { class: 'card', novalidate: true, 'aria-label': 'Create or edit a charging profile' },
    h('h3', { text: 'Create or edit' }), h('label', { for: 'profile-id' }, 'Profile id', idInput, idError),
    h('label', { for: 'profile-json' }, 'Profile (JSON, the csChargingProfiles fields in snake_case)', text),
    h('p', {}, h('button', { type: 'submit' }, 'Save profile')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let body;
    try { body = JSON.parse(text.value); } catch (err) { text.setAttribute('aria-invalid', 'true'); showAlert(`The profile is not JSON: ${err.message}`); return; }
    text.removeAttribute('aria-invalid');
    if (!/^[1-9][0-9]*$/.test(idInput.value.trim())) {
      idInput.setAttribute('aria-invalid', 'true');
      idError.textContent = 'Profile id is required: a whole number from 1';
      idInput.focus();
      return;
    }
    idInput.removeAttribute('aria-invalid');
    idError.textContent = '';
    delete body.charging_profile_id; delete body.updated_at;
    try { await api(`/api/charging-profiles/${Number(idInput.value)}`, { method: 'PUT', json: body }); router.refresh(); } catch (err) { if (err.status !== 401) showFailure(`Saving profile ${idInput.value}`, err); }
  });
  view.append(h('h2', { text: 'Stored charging profiles' }), h('p', { class: 'hint', text: 'Name one by id in set-charging-profile or remote-start.' }), form,
    table(['id', 'purpose', 'kind', 'stack level', 'unit', 'periods', 'updated', ''], list.map((p) => [String(p.charging_profile_id), p.charging_profile_purpose, p.charging_profile_kind,
      String(p.stack_level), p.charging_schedule.charging_rate_unit, p.charging_schedule.charging_schedule_period.map((x) => `${x.start_period}s: ${x.limit}`).join(', '), fmtTime(p.updated_at),
      h('span', {}, h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit profile ${p.charging_profile_id}`, onclick: () => { idInput.value = profileDraft.id = String(p.charging_profile_id); const copy = Object.assign({}, p); delete copy.updated_at; delete copy.charging_profile_id; text.value = profileDraft.json = JSON.stringify(copy, null, 2); idInput.focus(); } }, 'Edit'), ' ',
        h('button', { type: 'button', class: 'danger', 'aria-label': `Delete profile ${p.charging_profile_id}`, onclick: async () => { if (!confirm(`Delete profile ${p.charging_profile_id}?`)) return; try { await api(`/api/charging-profiles/${p.charging_profile_id}`, { method: 'DELETE' }); router.refresh(); } catch (err) { if (err.status !== 401) showFailure(`Deleting profile ${p.charging_profile_id}`, err); } } }, 'Delete'))]), { id: 'charging-profiles' }));
};

// ---------------------------------------------------------------- routing

const router = {
  ctx: null,
  rendering: false,
  pending: false,

  parse() {
    const raw = location.hash.replace(/^#\/?/, '') || 'overview';
    const [path, query] = raw.split('?');
    const [page, ...rest] = path.split('/');
    return { page: pages[page] ? page : 'overview', arg: rest.length ? decodeURIComponent(rest.join('/')) : null,
      params: new URLSearchParams(query || '') };
  },

  async go() {
    if (!token() && !location.hash.startsWith('#/sign-in')) {
      sessionStorage.setItem('chargeledger.after-sign-in', location.hash || '#/overview');
      location.hash = '#/sign-in';
      return;
    }
    this.ctx = this.parse();
    for (const a of document.querySelectorAll('nav a')) {
      if (a.getAttribute('href') === `#/${this.ctx.page}`) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.getElementById('sign-out').hidden = !token();
    await this.render(true);
    document.title = `${this.ctx.page === 'station' ? this.ctx.arg : this.ctx.page} · chargeledger console`;
  },

  async render(fresh) {
    if (this.rendering) { this.pending = true; return; }
    this.rendering = true;
    const view = document.getElementById('view');
    // The address may have changed without a hashchange (replaceState): read it anew.
    const ctx = this.parse();
    this.ctx = ctx;
    const page = pages[ctx.page];
    const next = h('div', { class: 'page', dataset: { page: ctx.page } });
    try {
      await page(next, ctx);
      // Keep what the operator was typing: a refresh of a page with forms keeps its forms.
      if (!fresh && page.keepsForms) {
        const old = view.querySelector('.command-forms');
        const fresher = next.querySelector('.command-forms');
        if (old && fresher) fresher.replaceWith(old);
      }
      const scroll = window.scrollY;
      const focused = document.activeElement && document.activeElement.id;
      view.replaceChildren(next);
      if (!fresh) {
        window.scrollTo(0, scroll);
        if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
      } else view.focus({ preventScroll: true });
    } catch (err) {
      if (err.status !== 401) {
        if (fresh) view.replaceChildren(h('p', { class: 'bad', text: `Could not load this page: ${err.message}` }));
        else if (err.status === 0) stream.setState('down');
      }
    } finally {
      this.rendering = false;
      if (this.pending) { this.pending = false; this.render(false); }
    }
  },

  refresh() { if (router.ctx && token() && router.ctx.page !== 'sign-in') router.render(false); },
  rerender() { router.refresh(); },
};

const refreshSoon = debounce(() => router.refresh(), 150);

stream.listeners.add((event) => progress.onEvent(event));
stream.listeners.add((event) => {
  const ctx = router.ctx;
  if (!ctx) return;
  const page = pages[ctx.page];
  if (page.onEvent && page.onEvent(event, ctx)) refreshSoon();
});

// "… s ago" counts on between refreshes.
setInterval(() => {
  for (const el of document.querySelectorAll('[data-age]')) el.textContent = age(el.dataset.age);
}, 1000);

setInterval(() => {
  const ctx = router.ctx;
  if (ctx && token() && pages[ctx.page].telemetry && !document.hidden && !ctx.params.get('at')) router.refresh();
  progress.tick();
}, TELEMETRY_REFRESH_MS);

document.getElementById('sign-out').addEventListener('click', () => signOut('Signed out.'));
window.addEventListener('hashchange', () => router.go());
takeTokenFromAddress();
if (token()) stream.open();
router.go();
