// The tenancy console: a single page over the platform's HTTP API.
//
// Rules this file keeps:
// - The key lives in sessionStorage only (never a URL, cookie, localStorage
//   or log) and is sent only as an Authorization header.
// - Everything that comes from the API is inserted as text (textContent,
//   text nodes, setAttribute), never as HTML.
// - Money is handled as integer nano-USD: a JSON number of USD has at most 9
//   decimals and at most 1e15 nano-USD, so Math.round(x * 1e9) recovers the
//   exact integer, and formatting never sums or rounds floats.
'use strict';

(function () {
  const STORAGE_KEY = 'tenancy.console.key';
  const PAGE_SIZE = 20;
  const HISTORY_DAYS = 30;
  const NANOS = 1e9;

  const state = {
    key: null,
    me: null, // {role, tenant_id}
    pageTokens: [''], // next_token of each page visited (page 0: none)
    page: 0,
    filter: '',
    issuedKeys: {}, // tenant id -> [{key_id, created_at}] issued in this tab
    resizeHandler: null,
  };

  // ---- DOM helpers: text only, never HTML ----

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVG_NS, tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }

  function setAttrs(e, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') {
        e.addEventListener(k.slice(2), v);
      } else {
        e.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }

  function append(e, children) {
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
  }

  const view = () => document.getElementById('view');

  // ---- messages ----

  function showError(msg) {
    const e = document.getElementById('error');
    e.textContent = msg;
    e.hidden = false;
    document.getElementById('notice').hidden = true;
  }

  function showNotice(msg) {
    const n = document.getElementById('notice');
    n.textContent = msg;
    n.hidden = false;
    document.getElementById('error').hidden = true;
  }

  function clearMessages() {
    document.getElementById('error').hidden = true;
    document.getElementById('notice').hidden = true;
  }

  // ---- money and numbers ----

  function nanos(x) {
    return Math.round(Number(x) * NANOS);
  }

  // usd formats integer nano-USD with the given decimals, rounding half up
  // on the exact integer (2 decimals: to the cent).
  function usd(n, decimals) {
    if (decimals === undefined) decimals = 2;
    const neg = n < 0;
    let a = Math.abs(n);
    const unit = Math.pow(10, 9 - decimals);
    a = Math.floor((a + unit / 2) / unit); // in units of 10^-decimals USD
    const scale = Math.pow(10, decimals);
    const whole = Math.floor(a / scale);
    let s = '$' + whole;
    if (decimals > 0) s += '.' + String(a % scale).padStart(decimals, '0');
    return (neg && a !== 0 ? '-' : '') + s;
  }

  // exactUSD is the exact decimal of nano-USD (up to 9 decimals).
  function exactUSD(n) {
    const neg = n < 0;
    const a = Math.abs(n);
    let s = String(Math.floor(a / NANOS));
    const frac = String(a % NANOS).padStart(9, '0').replace(/0+$/, '');
    if (frac) s += '.' + frac;
    return (neg ? '-$' : '$') + s;
  }

  function pct(part, whole) {
    if (!(whole > 0)) return part > 0 ? 100 : 0;
    return Math.max(0, Math.min(100, (part / whole) * 100));
  }

  // ---- the API ----

  class APIError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body, key) {
    const headers = { Authorization: 'Bearer ' + (key || state.key) };
    const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (e) {
      throw new APIError(0, 'network', 'The API could not be reached: ' + e.message);
    }
    const ct = r.headers.get('Content-Type') || '';
    if (!r.ok) {
      let msg = 'HTTP ' + r.status + ' ' + r.statusText;
      let code = '';
      if (ct.startsWith('application/json')) {
        try {
          const j = await r.json();
          if (j && j.error && j.error.message) {
            msg = j.error.message;
            code = j.error.code || '';
          } else if (j && j.message) {
            msg = j.message;
          }
        } catch (e) { /* keep the status line */ }
      }
      throw new APIError(r.status, code, msg);
    }
    if (r.status === 204) return null;
    if (ct.startsWith('application/json')) return r.json();
    return r.text();
  }

  const enc = encodeURIComponent;
  const tenantPath = (id) => '/tenants/' + enc(id);

  // ---- sign-in and routing ----

  function signOut() {
    sessionStorage.removeItem(STORAGE_KEY);
    state.key = null;
    state.me = null;
    state.issuedKeys = {};
    state.pageTokens = [''];
    state.page = 0;
    state.filter = '';
    if (location.hash) history.replaceState(null, '', location.pathname);
    clearMessages();
    render();
  }

  function renderHeader() {
    const who = document.getElementById('who');
    const out = document.getElementById('sign-out');
    if (!state.me) {
      who.textContent = '';
      out.hidden = true;
      return;
    }
    who.textContent = state.me.role === 'admin' ? 'Signed in as admin' : 'Signed in to tenant ' + state.me.tenant_id;
    out.hidden = false;
  }

  function renderSignIn() {
    const v = view();
    clear(v);
    const input = el('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true });
    const form = el('form', { class: 'card signin', 'data-testid': 'signin' },
      el('h2', {}, 'Sign in'),
      el('p', { class: 'hint' }, 'Paste the admin key or a tenant key. It stays in this browser tab only and is sent only in the Authorization header.'),
      el('label', { for: 'key' }, 'API key'),
      input,
      el('button', { type: 'submit' }, 'Sign in'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      try {
        const me = await api('GET', '/me', undefined, key);
        input.value = '';
        sessionStorage.setItem(STORAGE_KEY, key);
        state.key = key;
        state.me = me;
        clearMessages();
        const own = '#' + tenantPath(me.tenant_id);
        if (me.role !== 'admin' && location.hash !== own) {
          location.hash = own; // hashchange renders it
          return;
        }
        render();
      } catch (e) {
        showError(e.message);
      }
    });
    v.appendChild(form);
    v.dataset.state = 'signin';
    input.focus();
  }

  function route() {
    const h = location.hash.replace(/^#/, '');
    const m = /^\/tenants\/([^/]+)$/.exec(h);
    if (m) {
      try {
        return { view: 'tenant', id: decodeURIComponent(m[1]) };
      } catch (e) {
        return { view: 'tenant', id: m[1] };
      }
    }
    return { view: 'list' };
  }

  async function render() {
    if (state.resizeHandler) {
      window.removeEventListener('resize', state.resizeHandler);
      state.resizeHandler = null;
    }
    if (!state.key) {
      state.me = null;
      renderHeader();
      renderSignIn();
      return;
    }
    if (!state.me) {
      try {
        state.me = await api('GET', '/me');
      } catch (e) {
        if (e.status === 401) {
          sessionStorage.removeItem(STORAGE_KEY);
          state.key = null;
          renderHeader();
          renderSignIn();
        } else { // the API is unreachable or failing: say so, offer a retry
          const v = view();
          clear(v);
          v.append(errorPanel(e));
          v.dataset.state = 'error';
          document.getElementById('sign-out').hidden = false;
        }
        showError(e.message);
        return;
      }
    }
    renderHeader();
    const r = route();
    if (r.view === 'tenant') {
      await renderTenant(r.id);
    } else if (state.me.role === 'admin') {
      await renderList();
    } else {
      location.hash = '#' + tenantPath(state.me.tenant_id); // hashchange renders it
    }
  }

  // ---- admin: the list of tenants ----

  async function fetchPage(token, limit) {
    let q = '?limit=' + limit;
    if (token) q += '&next_token=' + enc(token);
    return api('GET', '/tenants' + q);
  }

  // matching pages through every tenant (up to maxPages pages of 100) for a filter.
  async function matching(filter, maxPages) {
    const f = filter.toLowerCase();
    const out = [];
    let token = '';
    for (let i = 0; i < maxPages; i++) {
      const page = await fetchPage(token, 100);
      for (const t of page.tenants) {
        if (t.tenant_id.toLowerCase().includes(f) || String(t.name).toLowerCase().includes(f)) out.push(t);
      }
      if (!page.next_token) return { tenants: out, truncated: false };
      token = page.next_token;
    }
    return { tenants: out, truncated: true };
  }

  async function renderList() {
    const v = view();
    v.dataset.state = 'loading';
    const filterInput = el('input', { type: 'search', name: 'filter', placeholder: 'Filter by id or name', 'aria-label': 'Filter tenants by id or name', 'data-testid': 'tenant-filter', value: state.filter });
    const filterForm = el('form', { class: 'filter', role: 'search' }, filterInput, el('button', { type: 'submit', class: 'secondary' }, 'Filter'));
    filterForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      state.filter = filterInput.value.trim();
      state.pageTokens = [''];
      state.page = 0;
      renderList();
    });
    const head = el('div', { class: 'toolbar' }, el('h2', {}, 'Tenants'), filterForm);

    let tenants, next = null, truncated = false;
    try {
      if (state.filter) {
        const r = await matching(state.filter, 50);
        tenants = r.tenants;
        truncated = r.truncated;
      } else {
        const page = await fetchPage(state.pageTokens[state.page], PAGE_SIZE);
        tenants = page.tenants;
        next = page.next_token;
      }
    } catch (e) {
      clear(v);
      v.append(head, errorPanel(e));
      v.dataset.state = 'error';
      showError(e.message);
      return;
    }
    const usages = await Promise.all(tenants.map((t) =>
      api('GET', tenantPath(t.tenant_id) + '/usage').catch((e) => e)));

    const tbody = el('tbody');
    tenants.forEach((t, i) => tbody.appendChild(tenantRow(t, usages[i])));
    const table = el('table', { class: 'tenants', 'data-testid': 'tenant-table' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, 'Tenant'),
        el('th', { scope: 'col' }, 'State'),
        el('th', { scope: 'col' }, 'Agents'),
        el('th', { scope: 'col' }, 'Spend today / cap'),
        el('th', { scope: 'col' }, 'Queries this hour'))),
      tbody);

    let info;
    if (state.filter) {
      info = tenants.length + ' matching "' + state.filter + '"' + (truncated ? ' (first 5,000 tenants searched)' : '');
    } else {
      info = 'Page ' + (state.page + 1);
    }
    const prev = el('button', { type: 'button', class: 'secondary', 'data-testid': 'prev-page', disabled: state.filter !== '' || state.page === 0 }, '← Previous');
    const nextBtn = el('button', { type: 'button', class: 'secondary', 'data-testid': 'next-page', disabled: state.filter !== '' || !next }, 'Next →');
    prev.addEventListener('click', () => { state.page--; renderList(); });
    nextBtn.addEventListener('click', () => {
      state.pageTokens[state.page + 1] = next;
      state.page++;
      renderList();
    });
    const pager = el('div', { class: 'pager' }, prev, el('span', { 'data-testid': 'page-info' }, info), nextBtn);

    clear(v);
    v.append(head);
    if (tenants.length === 0) {
      v.append(el('p', { class: 'empty', 'data-testid': 'no-tenants' }, state.filter ? 'No tenant matches.' : 'No tenants on this page.'));
    } else {
      v.append(el('div', { class: 'table-wrap' }, table));
    }
    v.append(pager);
    v.dataset.state = 'ready';
  }

  function tenantRow(t, u) {
    const open = () => { location.hash = '#' + tenantPath(t.tenant_id); };
    const link = el('a', { href: '#' + tenantPath(t.tenant_id), class: 'tenant-link' }, t.name);
    const tr = el('tr', { 'data-testid': 'tenant-row', 'data-tenant-id': t.tenant_id, tabindex: '0' },
      el('td', { 'data-label': 'Tenant' }, link, el('div', { class: 'sub', 'data-field': 'tenant_id' }, t.tenant_id)),
      el('td', { 'data-label': 'State' }, stateBadge(t.is_active)),
      el('td', { 'data-label': 'Agents' }, el('span', {}, el('span', { 'data-field': 'agents' }, String(t.agent_count)), ' / ',
        el('span', { 'data-field': 'max_agents' }, String(t.max_agents)))),
      el('td', { 'data-label': 'Spend today' }, u instanceof Error ? el('span', { class: 'muted', title: u.message }, 'unavailable') : spend(u)),
      el('td', { 'data-label': 'Queries this hour' }, u instanceof Error ? '—' : el('span', {},
        el('span', { 'data-field': 'queries_this_hour' }, String(u.queries_this_hour)), ' / ',
        el('span', { 'data-field': 'max_queries_per_hour' }, String(u.max_queries_per_hour)))));
    tr.addEventListener('click', (ev) => { if (ev.target.tagName !== 'A') open(); });
    tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') open(); });
    return tr;
  }

  function stateBadge(active) {
    return el('span', { class: 'badge ' + (active ? 'on' : 'off'), 'data-field': 'is_active', 'data-active': String(active) },
      active ? 'Active' : 'Inactive');
  }

  // spend renders today's spend against the cap: a bar and the text.
  function spend(u) {
    const spent = nanos(u.total_cost_usd);
    const cap = nanos(u.max_cost_usd_per_day);
    const p = pct(spent, cap);
    const fill = el('div', { class: 'meter-fill' + (p >= 100 ? ' full' : p >= 80 ? ' high' : '') });
    fill.style.width = p.toFixed(2) + '%';
    return el('div', { class: 'spend' },
      el('div', { class: 'meter', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': p.toFixed(1), 'aria-label': 'Spend today against the daily cap' }, fill),
      el('div', { class: 'spend-text' },
        el('span', { 'data-field': 'total_cost_usd', 'data-usd': exactUSD(spent), title: exactUSD(spent) }, usd(spent)),
        ' / ',
        el('span', { 'data-field': 'max_cost_usd_per_day', title: exactUSD(cap) }, usd(cap))));
  }

  // errorPanel shows the API's message in place of a view, with a retry.
  function errorPanel(e) {
    const retry = el('button', { type: 'button', class: 'secondary', 'data-testid': 'retry' }, 'Retry');
    retry.addEventListener('click', () => { clearMessages(); render(); });
    return el('div', { class: 'card error-panel', 'data-testid': 'view-error' }, el('h2', {}, 'Cannot show this'),
      el('p', { 'data-field': 'message' }, e.message), retry);
  }

  // ---- the tenant view ----

  async function renderTenant(id) {
    const v = view();
    v.dataset.state = 'loading';
    const isAdmin = state.me.role === 'admin';
    const base = tenantPath(id);
    let tenant, usage, history, agents;
    try {
      [tenant, usage, history, agents] = await Promise.all([
        api('GET', base), api('GET', base + '/usage'), api('GET', base + '/usage/history'), api('GET', base + '/agents')]);
    } catch (e) {
      clear(v);
      if (isAdmin) {
        v.append(backLink());
      } else if (id !== state.me.tenant_id) {
        v.append(el('p', { class: 'back' }, el('a', { href: '#' + tenantPath(state.me.tenant_id), 'data-testid': 'back' }, '← Your tenant')));
      }
      v.append(errorPanel(e));
      v.dataset.state = 'error';
      showError(e.message);
      return;
    }
    clear(v);
    const heading = el('div', { class: 'tenant-head' },
      el('div', {},
        el('h2', { 'data-field': 'name' }, tenant.name),
        el('div', { class: 'sub' }, 'Tenant ', el('code', { 'data-field': 'tenant_id' }, tenant.tenant_id))),
      stateBadge(tenant.is_active));
    if (isAdmin) v.append(backLink());
    v.append(heading);
    if (isAdmin) v.append(adminActions(tenant));
    v.append(usageCard(usage, tenant), historyCard(usage, history.days), agentsCard(tenant, agents.agents));
    if (isAdmin) v.append(limitsCard(tenant), keysCard(tenant));
    v.dataset.state = 'ready';
    v.dataset.tenantId = tenant.tenant_id;
  }

  function backLink() {
    return el('p', { class: 'back' }, el('a', { href: '#/', 'data-testid': 'back' }, '← All tenants'));
  }

  // act runs an API action, then shows its outcome and re-renders.
  async function act(fn, done) {
    try {
      await fn();
      await render();
      if (done) showNotice(done);
    } catch (e) {
      showError(e.message);
    }
  }

  function adminActions(t) {
    const base = tenantPath(t.tenant_id);
    const toggle = el('button', { type: 'button', 'data-testid': 'toggle-active', class: t.is_active ? 'danger' : '' },
      t.is_active ? 'Deactivate' : 'Activate');
    toggle.addEventListener('click', () => act(
      () => api('POST', base + (t.is_active ? '/deactivate' : '/activate')),
      t.is_active ? 'Tenant ' + t.tenant_id + ' deactivated' : 'Tenant ' + t.tenant_id + ' activated'));

    const confirmBox = el('div', { class: 'confirm', 'data-testid': 'reset-confirm', hidden: true },
      el('p', {}, 'Reset today\'s usage of ' + t.tenant_id + '? Today is archived to the history first; lifetime totals stay.'));
    const yes = el('button', { type: 'button', class: 'danger', 'data-testid': 'reset-confirm-yes' }, 'Yes, reset today');
    const no = el('button', { type: 'button', class: 'secondary', 'data-testid': 'reset-confirm-no' }, 'Cancel');
    confirmBox.append(yes, no);
    const reset = el('button', { type: 'button', class: 'secondary', 'data-testid': 'reset-usage' }, 'Reset today\'s usage');
    reset.addEventListener('click', () => { confirmBox.hidden = false; yes.focus(); });
    no.addEventListener('click', () => { confirmBox.hidden = true; });
    yes.addEventListener('click', () => act(() => api('POST', base + '/reset'), 'Today\'s usage of ' + t.tenant_id + ' was reset'));

    const csv = el('button', { type: 'button', class: 'secondary', 'data-testid': 'download-csv' }, 'Download history CSV');
    csv.addEventListener('click', async () => {
      try {
        const text = await api('GET', base + '/usage/history?format=csv');
        const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
        const a = el('a', { href: url, download: t.tenant_id + '-usage-history.csv', hidden: true });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (e) {
        showError(e.message);
      }
    });
    return el('div', { class: 'actions' }, el('div', { class: 'buttons' }, toggle, reset, csv), confirmBox);
  }

  function stat(label, field, value, title) {
    return el('div', { class: 'stat' }, el('div', { class: 'label' }, label),
      el('div', { class: 'value', 'data-field': field, title: title || null }, value));
  }

  // monthStat is this month's spend against the monthly budget (issue 14), if any.
  function monthStat(u) {
    const spent = nanos(u.month_cost_usd);
    const value = el('div', { class: 'value' }, el('span', { 'data-field': 'month_cost_usd', title: exactUSD(spent) }, usd(spent)));
    if (u.max_cost_usd_per_month === null || u.max_cost_usd_per_month === undefined) {
      value.append(el('span', { class: 'sub' }, ' no monthly budget'));
    } else {
      const cap = nanos(u.max_cost_usd_per_month);
      value.append(' / ', el('span', { 'data-field': 'max_cost_usd_per_month', title: exactUSD(cap) }, usd(cap)));
    }
    return el('div', { class: 'stat' }, el('div', { class: 'label' }, 'This month' + (u.month ? ' (' + u.month + ')' : '')), value);
  }

  function usageCard(u, t) {
    const models = Object.entries(u.by_model || {}).sort((a, b) => a[0].localeCompare(b[0]));
    const card = el('section', { class: 'card', 'data-testid': 'usage' },
      el('h3', {}, 'Usage on ', el('span', { 'data-field': 'usage_date' }, u.usage_date),
        t.timezone ? el('span', { class: 'sub', 'data-field': 'timezone' }, ' (' + t.timezone + ')') : null),
      el('div', { class: 'spend-big' }, spend(u)),
      el('div', { class: 'stats' },
        stat('Queries today', 'queries_today', String(u.queries_today)),
        el('div', { class: 'stat' }, el('div', { class: 'label' }, 'Queries this hour'),
          el('div', { class: 'value' }, el('span', { 'data-field': 'queries_this_hour' }, String(u.queries_this_hour)), ' / ',
            el('span', { 'data-field': 'max_queries_per_hour' }, String(u.max_queries_per_hour)))),
        el('div', { class: 'stat' }, el('div', { class: 'label' }, 'Agents'),
          el('div', { class: 'value' }, el('span', { 'data-field': 'agents' }, String(u.agents)), ' / ',
            el('span', { 'data-field': 'max_agents' }, String(u.max_agents)))),
        stat('Utilization', 'cost_utilization_pct', Number(u.cost_utilization_pct).toFixed(2) + '%'),
        'month_cost_usd' in u ? monthStat(u) : null,
        stat('In flight (reserved)', 'reserved_cost_usd', usd(nanos(u.reserved_cost_usd)), exactUSD(nanos(u.reserved_cost_usd))),
        stat('Lifetime spend', 'lifetime_cost_usd', usd(nanos(u.lifetime_cost_usd)), exactUSD(nanos(u.lifetime_cost_usd))),
        stat('Lifetime queries', 'total_queries', String(u.total_queries)),
        stat('Failed calls today', 'failed_calls', String(u.failed_calls)),
        stat('Resets at', 'resets_at', String(u.resets_at).replace('T', ' ').replace(/:00(Z|[+-]\d\d:\d\d)$/, ' $1').replace(/ Z$/, ' UTC'), u.resets_at)));
    if (models.length) {
      const rows = models.map(([m, mu]) => el('tr', {},
        el('td', { 'data-label': 'Model' }, m), el('td', { 'data-label': 'Queries' }, String(mu.queries)),
        el('td', { 'data-label': 'Input tokens' }, String(mu.input_tokens)), el('td', { 'data-label': 'Output tokens' }, String(mu.output_tokens)),
        el('td', { 'data-label': 'Cost' }, el('span', { title: exactUSD(nanos(mu.cost_usd)) }, usd(nanos(mu.cost_usd), 4)))));
      card.append(el('div', { class: 'table-wrap' }, el('table', { class: 'models' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Model'), el('th', {}, 'Queries'), el('th', {}, 'Input tokens'),
          el('th', {}, 'Output tokens'), el('th', {}, 'Cost'))),
        el('tbody', {}, rows))));
    }
    const agents = Object.entries(u.by_agent || {}).sort((a, b) => a[0].localeCompare(b[0]));
    if (agents.length) { // today's settled calls per agent (short id), as the report gives them
      const rows = agents.map(([id, au]) => el('tr', { 'data-testid': 'agent-usage-row', 'data-agent-id': id },
        el('td', { 'data-label': 'Agent' }, id), el('td', { 'data-label': 'Queries', 'data-field': 'queries' }, String(au.queries)),
        el('td', { 'data-label': 'Tokens', 'data-field': 'tokens' }, String(au.tokens)),
        el('td', { 'data-label': 'Cost', 'data-field': 'cost_usd' }, el('span', { title: exactUSD(nanos(au.cost_usd)) }, usd(nanos(au.cost_usd), 4)))));
      card.append(el('div', { class: 'table-wrap' }, el('table', { class: 'models', 'data-testid': 'by-agent' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Agent'), el('th', {}, 'Queries'), el('th', {}, 'Tokens'), el('th', {}, 'Cost'))),
        el('tbody', {}, rows))));
    }
    return card;
  }

  // ---- the 30-day chart ----

  function dayKeys(lastDay, n) {
    const [y, m, d] = lastDay.split('-').map(Number);
    const end = Date.UTC(y, m - 1, d);
    const out = [];
    for (let i = n - 1; i >= 0; i--) out.push(new Date(end - i * 86400000).toISOString().slice(0, 10));
    return out;
  }

  // niceStep is a 1-2-5 step (in the value's unit) giving about `ticks` ticks up to max.
  function niceStep(max, ticks) {
    if (max <= 0) return 1;
    const raw = max / ticks;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const f of [1, 2, 5, 10]) if (f * mag >= raw) return f * mag;
    return 10 * mag;
  }

  function historyCard(usage, days) {
    const keys = dayKeys(usage.usage_date, HISTORY_DAYS);
    const byDate = {};
    for (const d of days || []) byDate[d.date] = d;
    const series = keys.map((k) => ({ date: k, cost: byDate[k] ? nanos(byDate[k].cost_usd) : 0, queries: byDate[k] ? Number(byDate[k].queries) : 0 }));
    const box = el('div', { class: 'chart-box' });
    const total = series.reduce((s, d) => s + d.cost, 0);
    const totalQ = series.reduce((s, d) => s + d.queries, 0);
    const card = el('section', { class: 'card', 'data-testid': 'history' },
      el('h3', {}, 'Last 30 days'),
      el('p', { class: 'hint' }, el('span', { class: 'key cost' }), ' cost (USD, left axis)  ',
        el('span', { class: 'key queries' }), ' queries (right axis) · ',
        el('span', { 'data-field': 'history_total_cost' }, usd(total)), ' and ',
        el('span', { 'data-field': 'history_total_queries' }, String(totalQ)), ' queries in 30 days'),
      box);
    const draw = () => {
      clear(box);
      box.appendChild(chart(series, Math.max(280, box.clientWidth || 640)));
    };
    // drawn once in the document (to know its width), and again on resize
    requestAnimationFrame(draw);
    draw();
    let pending = false;
    state.resizeHandler = () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; if (box.isConnected) draw(); });
    };
    window.addEventListener('resize', state.resizeHandler);
    return card;
  }

  function chart(series, width) {
    const height = 240;
    const m = { top: 14, right: 44, bottom: 34, left: 62 };
    const w = width - m.left - m.right;
    const h = height - m.top - m.bottom;
    const maxCost = Math.max(...series.map((d) => d.cost));
    const maxQ = Math.max(...series.map((d) => d.queries));
    // cost axis in nano-USD: 1-2-5 steps, never finer than a nano
    const cStep = Math.max(1, niceStep(maxCost > 0 ? maxCost : NANOS / 100, 4));
    const cTop = Math.max(cStep, Math.ceil(maxCost / cStep) * cStep);
    const decimals = Math.max(2, Math.min(9, 9 - Math.floor(Math.log10(cStep))));
    const qStep = Math.max(1, Math.ceil(niceStep(maxQ > 0 ? maxQ : 4, 4)));
    const qTop = Math.max(qStep, Math.ceil(maxQ / qStep) * qStep);
    const n = series.length;
    const slot = w / n;
    const barW = Math.max(2, slot * 0.7);
    const yC = (c) => m.top + h - (c / cTop) * h;
    const yQ = (q) => m.top + h - (q / qTop) * h;
    const xMid = (i) => m.left + slot * i + slot / 2;

    const s = svg('svg', { 'data-testid': 'history-chart', width, height, viewBox: '0 0 ' + width + ' ' + height, role: 'img',
      'aria-label': 'Cost and queries per day over the last 30 days', class: 'chart' });
    const grid = svg('g', { class: 'grid' });
    const axisL = svg('g', { class: 'axis cost-axis', 'data-testid': 'cost-axis' });
    for (let c = 0; c <= cTop; c += cStep) {
      const y = yC(c);
      grid.appendChild(svg('line', { x1: m.left, x2: m.left + w, y1: y, y2: y }));
      axisL.appendChild(svg('text', { x: m.left - 6, y: y + 4, 'text-anchor': 'end' }, usd(c, decimals)));
    }
    const axisR = svg('g', { class: 'axis queries-axis' });
    for (let q = 0; q <= qTop; q += qStep) {
      axisR.appendChild(svg('text', { x: m.left + w + 6, y: yQ(q) + 4, 'text-anchor': 'start' }, String(q)));
    }
    const axisX = svg('g', { class: 'axis days-axis' });
    const every = width < 480 ? 10 : 5;
    series.forEach((d, i) => {
      const last = i === n - 1;
      if (last || (n - 1 - i) % every === 0) {
        axisX.appendChild(svg('text', { x: xMid(i), y: m.top + h + 16, 'text-anchor': last ? 'end' : 'middle' }, last ? 'today' : d.date.slice(5)));
      }
    });
    axisX.appendChild(svg('line', { x1: m.left, x2: m.left + w, y1: m.top + h, y2: m.top + h }));
    const bars = svg('g', { class: 'bars' });
    let path = '';
    series.forEach((d, i) => {
      const y = yC(d.cost);
      const tip = d.date + ': ' + exactUSD(d.cost) + ', ' + d.queries + (d.queries === 1 ? ' query' : ' queries');
      // a day without spend is a 3 px stub, so every day has a visible mark
      bars.appendChild(svg('rect', { x: (xMid(i) - barW / 2).toFixed(2), y: Math.min(y, m.top + h - 3).toFixed(2), width: barW.toFixed(2),
        height: Math.max(3, m.top + h - y).toFixed(2), class: d.cost > 0 ? 'cost' : 'cost zero',
        'data-date': d.date, 'data-cost-usd': exactUSD(d.cost), 'data-queries': d.queries }, svg('title', {}, tip)));
      const py = yQ(d.queries);
      path += (i === 0 ? 'M' : 'L') + xMid(i).toFixed(2) + ' ' + py.toFixed(2);
    });
    // one mark per day: the bar (cost, with the day's numbers in its title);
    // queries are the line through the days
    s.append(grid, svg('path', { d: path, class: 'line', 'data-testid': 'queries-line' }), bars, axisL, axisR, axisX);
    return s;
  }

  // ---- agents ----

  function agentsCard(t, agents) {
    const base = tenantPath(t.tenant_id);
    const rows = agents.map((a) => {
      const del = el('button', { type: 'button', class: 'small danger', 'data-testid': 'delete-agent' }, 'Delete');
      let armed = false;
      del.addEventListener('click', () => {
        if (!armed) { // a second click confirms
          armed = true;
          del.textContent = 'Confirm delete';
          return;
        }
        act(() => api('DELETE', base + '/agents/' + enc(a.short_id)), 'Agent ' + a.short_id + ' deleted');
      });
      return el('tr', { 'data-testid': 'agent-row', 'data-agent-id': a.short_id },
        el('td', { 'data-label': 'Agent' }, el('div', { 'data-field': 'name' }, a.name), el('div', { class: 'sub' }, a.agent_id)),
        el('td', { 'data-label': 'Model', 'data-field': 'llm_model' }, a.llm_model),
        el('td', { 'data-label': 'Tools', 'data-field': 'tools' }, (a.tools && a.tools.length) ? a.tools.join(', ') : '—'),
        el('td', { 'data-label': 'Max output tokens', 'data-field': 'max_output_tokens' }, String(a.max_output_tokens)),
        el('td', { 'data-label': '' }, del));
    });
    const card = el('section', { class: 'card', 'data-testid': 'agents' },
      el('h3', {}, 'Agents ', el('span', { class: 'sub' }, agents.length + ' of ' + t.max_agents)));
    if (rows.length) {
      card.append(el('div', { class: 'table-wrap' }, el('table', { class: 'agents' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Agent'), el('th', {}, 'Model'), el('th', {}, 'Tools'), el('th', {}, 'Max output tokens'), el('th', {}, ''))),
        el('tbody', {}, rows))));
    } else {
      card.append(el('p', { class: 'empty' }, 'No agents yet.'));
    }
    card.append(agentForm(t));
    return card;
  }

  function field(label, input) {
    return el('label', { class: 'field' }, el('span', {}, label), input);
  }

  function agentForm(t) {
    const base = tenantPath(t.tenant_id);
    const models = t.allowed_models || [];
    const listID = 'models-' + t.tenant_id;
    const id = el('input', { name: 'agent_id', required: true, placeholder: 'support', autocomplete: 'off' });
    const name = el('input', { name: 'agent_name', placeholder: 'defaults to the id', autocomplete: 'off' });
    const model = el('input', { name: 'llm_model', list: listID, placeholder: models[0] || 'claude-sonnet-4-20250514', autocomplete: 'off' });
    const tools = el('input', { name: 'tools', placeholder: 'comma separated', autocomplete: 'off' });
    const maxOut = el('input', { name: 'max_output_tokens', type: 'number', min: '1', placeholder: '1024' });
    const prompt = el('textarea', { name: 'system_prompt', rows: '2', placeholder: 'You are a helpful assistant.' });
    const form = el('form', { class: 'grid-form', 'data-testid': 'create-agent' },
      el('h4', {}, 'Create an agent'),
      field('Agent id', id), field('Name', name), field('Model', model),
      el('datalist', { id: listID }, models.map((m) => el('option', { value: m }))),
      field('Tools', tools), field('Max output tokens', maxOut), field('System prompt', prompt),
      el('div', { class: 'form-actions' }, el('button', { type: 'submit' }, 'Create agent')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const body = { agent_id: id.value.trim() };
      if (name.value.trim()) body.name = name.value.trim();
      if (model.value.trim()) body.llm_model = model.value.trim();
      if (tools.value.trim()) body.tools = tools.value.split(',').map((s) => s.trim()).filter(Boolean);
      if (maxOut.value.trim()) {
        const n = Number(maxOut.value);
        if (!Number.isInteger(n)) { showError('max_output_tokens must be a whole number'); return; }
        body.max_output_tokens = n;
      }
      if (prompt.value) body.system_prompt = prompt.value;
      act(() => api('POST', base + '/agents', body), 'Agent ' + body.agent_id + ' created');
    });
    return form;
  }

  // ---- admin: limits and keys ----

  const MONEY_RE = /^\d{1,7}(\.\d{1,9})?$/;
  const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

  function limitsCard(t) {
    const base = tenantPath(t.tenant_id);
    const name = el('input', { name: 'name', value: t.name, autocomplete: 'off' });
    const maxAgents = el('input', { name: 'max_agents', type: 'number', min: '0', value: t.max_agents });
    const maxQ = el('input', { name: 'max_queries_per_hour', type: 'number', min: '0', value: t.max_queries_per_hour });
    const maxCost = el('input', { name: 'max_cost_usd_per_day', inputmode: 'decimal', value: exactUSD(nanos(t.max_cost_usd_per_day)).slice(1), autocomplete: 'off' });
    const hasMonth = 'max_cost_usd_per_month' in t;
    const monthCap = t.max_cost_usd_per_month === null || t.max_cost_usd_per_month === undefined ? '' : exactUSD(nanos(t.max_cost_usd_per_month)).slice(1);
    const maxMonth = el('input', { name: 'max_cost_usd_per_month', inputmode: 'decimal', value: monthCap, placeholder: 'empty: no monthly budget', autocomplete: 'off' });
    const tz = el('input', { name: 'timezone', value: t.timezone || '', placeholder: 'UTC', autocomplete: 'off' });
    const models = el('input', { name: 'allowed_models', value: (t.allowed_models || []).join(', '), placeholder: 'empty: every model', autocomplete: 'off' });
    const tools = el('input', { name: 'allowed_tools', value: (t.allowed_tools || []).join(', '), placeholder: 'empty: every tool', autocomplete: 'off' });
    const form = el('form', { class: 'grid-form', 'data-testid': 'edit-limits' },
      field('Name', name), field('Max agents', maxAgents), field('Max queries per hour', maxQ),
      field('Max cost per day (USD)', maxCost), hasMonth ? field('Max cost per month (USD)', maxMonth) : null,
      'timezone' in t ? field('Time zone (IANA)', tz) : null,
      field('Allowed models', models), field('Allowed tools', tools),
      el('div', { class: 'form-actions' }, el('button', { type: 'submit' }, 'Save limits')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const cost = maxCost.value.trim().replace(/^\$/, '');
      if (!MONEY_RE.test(cost)) {
        showError('Max cost per day must be an amount of USD with at most 9 decimals, like 10 or 0.25');
        return;
      }
      const month = maxMonth.value.trim().replace(/^\$/, '');
      if (hasMonth && month !== '' && !MONEY_RE.test(month)) {
        showError('Max cost per month must be empty (no budget) or an amount of USD with at most 9 decimals');
        return;
      }
      const ints = {};
      for (const [k, inp] of [['max_agents', maxAgents], ['max_queries_per_hour', maxQ]]) {
        const n = Number(inp.value);
        if (inp.value.trim() === '' || !Number.isInteger(n)) {
          showError(k + ' must be a whole number');
          return;
        }
        ints[k] = n;
      }
      // the amount goes into the JSON as the exact decimal typed, not a float
      const patch = { name: name.value.trim(), max_agents: ints.max_agents, max_queries_per_hour: ints.max_queries_per_hour,
        max_cost_usd_per_day: '__COST__', allowed_models: list(models.value), allowed_tools: list(tools.value) };
      if (hasMonth) patch.max_cost_usd_per_month = '__MONTH__';
      if ('timezone' in t) patch.timezone = tz.value.trim() || 'UTC';
      const body = JSON.stringify(patch).replace('"__COST__"', cost).replace('"__MONTH__"', month === '' ? 'null' : month);
      act(() => api('PATCH', base, body), 'Limits of ' + t.tenant_id + ' saved');
    });
    return el('section', { class: 'card', 'data-testid': 'limits' }, el('h3', {}, 'Limits'), form);
  }

  function keysCard(t) {
    const base = tenantPath(t.tenant_id);
    const issued = state.issuedKeys[t.tenant_id] || (state.issuedKeys[t.tenant_id] = []);
    const shown = el('div', { class: 'new-key', 'data-testid': 'new-key-box', hidden: true });
    const issue = el('button', { type: 'button', 'data-testid': 'issue-key' }, 'Issue a key');
    issue.addEventListener('click', async () => {
      try {
        const k = await api('POST', base + '/keys');
        issued.push({ key_id: k.key_id, created_at: k.created_at });
        showKey(shown, k);
        renderIssued();
        showNotice('Key ' + k.key_id + ' issued: copy it now, it is shown only once');
      } catch (e) {
        showError(e.message);
      }
    });
    const keyID = el('input', { name: 'key_id', placeholder: 'key id', required: true, autocomplete: 'off' });
    const revokeForm = el('form', { class: 'inline-form', 'data-testid': 'revoke-key' }, keyID,
      el('button', { type: 'submit', class: 'danger' }, 'Revoke'));
    const revoke = async (id) => {
      try {
        await api('DELETE', base + '/keys/' + enc(id));
        const i = issued.findIndex((k) => k.key_id === id);
        if (i >= 0) issued.splice(i, 1);
        renderIssued();
        showNotice('Key ' + id + ' revoked');
      } catch (e) {
        showError(e.message);
      }
    };
    revokeForm.addEventListener('submit', (ev) => { ev.preventDefault(); revoke(keyID.value.trim()); keyID.value = ''; });
    const issuedList = el('ul', { class: 'issued', 'data-testid': 'issued-keys' });
    function renderIssued() {
      clear(issuedList);
      for (const k of issued) {
        const b = el('button', { type: 'button', class: 'small danger' }, 'Revoke');
        b.addEventListener('click', () => revoke(k.key_id));
        issuedList.appendChild(el('li', { 'data-key-id': k.key_id }, el('code', {}, k.key_id), ' issued ' + k.created_at + ' ', b));
      }
    }
    renderIssued();
    return el('section', { class: 'card', 'data-testid': 'keys' }, el('h3', {}, 'API keys'),
      el('p', { class: 'hint' }, 'A key is shown once, when issued. The API stores only its hash, so keys cannot be listed: revoke one by its key id.'),
      issue, shown, issuedList, revokeForm);
  }

  function showKey(box, k) {
    clear(box);
    const input = el('input', { readonly: true, value: k.key, 'data-testid': 'new-key', 'aria-label': 'New API key', spellcheck: 'false' });
    const copy = el('button', { type: 'button', class: 'secondary', 'data-testid': 'copy-key' }, 'Copy');
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(input.value);
        copy.textContent = 'Copied';
      } catch (e) {
        input.select();
        copy.textContent = 'Press Ctrl+C';
      }
    });
    const hide = el('button', { type: 'button', class: 'secondary' }, 'Done');
    hide.addEventListener('click', () => { clear(box); box.hidden = true; });
    box.append(el('p', {}, 'Key ', el('code', {}, k.key_id), ' for tenant ', el('code', {}, k.tenant_id), ': shown once.'),
      el('div', { class: 'inline-form' }, input, copy, hide));
    box.hidden = false;
  }

  // ---- start ----

  function start() {
    state.key = sessionStorage.getItem(STORAGE_KEY);
    document.getElementById('sign-out').addEventListener('click', signOut);
    window.addEventListener('hashchange', () => { clearMessages(); render(); });
    render();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
