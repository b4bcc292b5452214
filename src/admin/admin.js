// The admin page: polls api/overview every second and draws it (docs/protocol.md §10). Plain
// browser JavaScript, no build step; every value from the server goes in as text, never as HTML.
'use strict'
;(() => {
  const POLL_MS = 1000
  const STORE = 'fastify-ipc.admin.token'
  const COLORS = 6
  const $ = id => document.getElementById(id)
  let timer = null
  let deadService = null

  // --- the API, with the token from sessionStorage ---------------------------------------------
  async function api (method, path) {
    const token = sessionStorage.getItem(STORE)
    const res = await fetch('api/' + path, { method, headers: token ? { authorization: 'Bearer ' + token } : {} })
    if (res.status === 401) {
      signedOut('The key or token was refused.')
      throw new Error('unauthorized')
    }
    const body = await res.json().catch(() => ({}))
    if (!res.ok) throw new Error(body.message || res.statusText)
    return body
  }

  function signedOut (why) {
    sessionStorage.removeItem(STORE)
    clearTimeout(timer)
    $('main').hidden = true
    $('logout').hidden = true
    $('login').hidden = false
    $('login-error').hidden = !why
    $('login-error').textContent = why || ''
    status('bad', 'signed out')
  }

  function signedIn () {
    $('login').hidden = true
    $('main').hidden = false
    $('logout').hidden = false
    poll()
  }

  async function poll () {
    clearTimeout(timer)
    try {
      render(await api('GET', 'overview'))
      status('ok', 'live · served by ' + lastNode + ' · ' + new Date().toLocaleTimeString())
    } catch (err) {
      if (err.message === 'unauthorized') return
      status('bad', 'no answer: ' + err.message)
    }
    timer = setTimeout(poll, POLL_MS)
  }

  function status (kind, text) {
    $('status').className = 'status ' + kind
    $('status-text').textContent = text
  }

  // --- rendering ---------------------------------------------------------------------------------
  let lastNode = ''
  const fmt = new Intl.NumberFormat('en-US')
  const num = n => fmt.format(n)
  const ms = v => v === null ? '–' : v < 1 ? v.toFixed(2) + ' ms' : v < 100 ? v.toFixed(1) + ' ms' : Math.round(v) + ' ms'
  const pct = v => v === null ? '–' : (v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1) + ' %'
  const ago = t => { const s = Math.max(0, Math.round((Date.now() - t) / 1000)); return s < 90 ? s + ' s' : s < 5400 ? Math.round(s / 60) + ' min' : (s / 3600).toFixed(1) + ' h' }

  function el (tag, attrs, ...children) {
    const e = document.createElement(tag)
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
      else e.setAttribute(k, v)
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c))
    return e
  }
  const td = (field, value, cls) => el('td', { 'data-field': field, class: cls || '' }, value)

  function fill (tableId, rows, empty, columns) {
    const body = $(tableId).tBodies[0]
    body.replaceChildren(...(rows.length > 0 ? rows : [el('tr', {}, el('td', { class: 'empty', colspan: columns }, empty))]))
  }

  function render (o) {
    lastNode = o.node
    const conns = o.nodes.reduce((s, n) => s + n.connections.authenticated + n.connections.pending, 0)
    const rate = o.methods.reduce((s, m) => s + m.rate, 0)
    const lastMinute = o.history.errors.slice(-60).reduce((s, n) => s + n, 0)
    $('kpi-nodes').textContent = num(o.nodes.length)
    $('kpi-connections').textContent = num(conns)
    $('kpi-rate').textContent = num(Math.round(rate * 10) / 10)
    $('kpi-errors').textContent = num(lastMinute)
    $('kpi-errors').className = lastMinute > 0 ? 'bad' : ''
    $('kpi-workers').textContent = num(o.services.reduce((s, v) => s + v.workers.length, 0))
    const dead = o.services.reduce((s, v) => s + v.dead, 0)
    $('kpi-dead').textContent = num(dead)
    $('kpi-dead').className = dead > 0 ? 'bad' : ''

    const color = new Map(o.nodes.map((n, i) => [n.node, i % COLORS]))
    fill('nodes', o.nodes.map(n => el('tr', { 'data-node': n.node },
      el('td', {}, el('i', { class: 'swatch c' + color.get(n.node) }), n.node, n.node === o.node ? el('small', {}, ' (this page)') : null),
      td('connections', num(n.connections.authenticated), 'n'),
      td('pending', num(n.connections.pending), 'n'),
      td('users', num(n.users), 'n'),
      td('rooms', num(n.rooms), 'n'),
      td('uptime', ago(n.startedAt), 'n'),
      td('redis', n.brokerUp ? 'up' : 'down', n.brokerUp ? 'up' : 'down'))), 'no node has published a snapshot', 7)

    fill('services', o.services.map(s => el('tr', { 'data-service': s.service },
      el('td', {}, s.service),
      td('workers', s.workers.length === 0 ? el('span', { class: 'bad' }, 'none alive') : el('span', {}, ...s.workers.map(w => el('span', { class: 'pill' + (w.inFlight === 0 ? ' idle' : ''), title: w.id }, short(w.id) + ' · ' + w.inFlight)))),
      td('inFlight', num(s.inFlight), 'n'),
      td('pending', num(s.pending), 'n'),
      td('dead', num(s.dead), 'n' + (s.dead > 0 ? ' bad' : '')),
      el('td', {}, el('button', { class: 'small quiet', 'data-action': 'inspect', onclick: () => inspect(s.service) }, 'dead letters')))), 'no service has published methods', 6)

    fill('methods', o.methods.map(m => el('tr', { 'data-method': m.method },
      el('td', { class: 'mono' }, m.method),
      td('calls', num(m.calls), 'n'),
      td('rate', num(m.rate), 'n'),
      td('errors', num(m.errors), 'n' + (m.errors > 0 ? ' bad' : '')),
      td('errorRate', pct(m.errorRate), 'n' + (m.errorRate > 0 ? ' bad' : '')),
      td('p50', ms(m.p50Ms), 'n'),
      td('p99', ms(m.p99Ms), 'n'))), 'no calls yet', 7)

    fill('rooms', o.rooms.map(r => el('tr', { 'data-room': r.room }, el('td', { class: 'mono' }, r.room), td('members', num(r.members), 'n'))), 'no rooms', 2)

    fill('errors', o.errors.slice(0, 12).map(e => el('tr', {},
      el('td', {}, new Date(e.at).toLocaleTimeString()),
      el('td', {}, e.node),
      el('td', { class: 'mono' }, e.method),
      el('td', { class: 'n bad' }, e.code),
      el('td', { class: 'wrap' }, e.message),
      el('td', {}, e.userId || '–'))), 'no errors', 6)

    chart($('chart-calls'), o.history.end, [
      { values: o.history.calls, cls: 'c0', area: true },
      { values: o.history.errors, cls: 'err' }
    ])
    const series = Object.entries(o.history.connections).map(([node, values]) => ({ node, values, cls: 'c' + (color.get(node) ?? 0) }))
    chart($('chart-connections'), o.history.end, series)
    $('legend-connections').replaceChildren(...series.map(s => el('span', {}, el('i', { class: s.cls }), s.node)))
  }

  const short = id => id.length > 18 ? id.slice(0, 8) + '…' + id.slice(-6) : id

  // --- charts: one SVG each, drawn from scratch every poll ---------------------------------------
  const SVG = 'http://www.w3.org/2000/svg'
  const W = 640
  const H = 180
  const PAD = { l: 40, r: 8, t: 8, b: 20 }
  function svg (tag, attrs) {
    const e = document.createElementNS(SVG, tag)
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v)
    return e
  }
  function niceMax (v) {
    if (v <= 4) return 4
    const p = Math.pow(10, Math.floor(Math.log10(v)))
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p
    return 10 * p
  }
  function chart (node, end, series) {
    const n = series.length > 0 ? series[0].values.length : 0
    const max = niceMax(Math.max(0, ...series.flatMap(s => s.values)))
    const x = i => PAD.l + (W - PAD.l - PAD.r) * (n <= 1 ? 1 : i / (n - 1))
    const y = v => PAD.t + (H - PAD.t - PAD.b) * (1 - v / max)
    const parts = []
    const grid = svg('g', { class: 'grid' })
    for (let k = 0; k <= 4; k++) {
      const v = max * k / 4
      grid.append(svg('line', { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v) }))
      const t = svg('text', { x: PAD.l - 6, y: y(v) + 4, 'text-anchor': 'end' })
      t.textContent = v >= 1000 ? (v / 1000) + 'k' : String(Math.round(v * 10) / 10)
      grid.append(t)
    }
    const span = s => s >= 120 ? '-' + Math.round(s / 6) / 10 + ' min' : '-' + Math.round(s) + ' s'
    for (const [i, label] of [[0, span(n - 1)], [Math.round((n - 1) / 2), span((n - 1) / 2)], [n - 1, 'now']]) {
      const t = svg('text', { x: x(i), y: H - 4, 'text-anchor': i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle' })
      t.textContent = label
      grid.append(t)
    }
    parts.push(grid)
    for (const s of series) {
      const pts = s.values.map((v, i) => x(i).toFixed(1) + ',' + y(v).toFixed(1))
      if (s.area && pts.length > 0) parts.push(svg('path', { class: 'area', fill: 'var(--' + s.cls + ')', d: 'M' + x(0) + ',' + y(0) + ' L' + pts.join(' L') + ' L' + x(n - 1) + ',' + y(0) + ' Z' }))
      parts.push(svg('polyline', { class: 'line', stroke: s.cls === 'err' ? 'var(--bad)' : 'var(--' + s.cls + ')', points: pts.join(' ') }))
    }
    node.replaceChildren(...parts)
    node.dataset.end = end
  }

  // --- actions -----------------------------------------------------------------------------------
  async function lookup (userId) {
    $('user-note').textContent = 'asking every node…'
    try {
      const { connections } = await api('GET', 'users/' + encodeURIComponent(userId))
      $('user-note').textContent = connections.length + ' connection' + (connections.length === 1 ? '' : 's') + ' of ' + userId
      fill('user', connections.map(c => el('tr', { 'data-connection': c.connectionId },
        el('td', { class: 'mono' }, c.connectionId),
        td('node', c.node),
        td('ip', c.ip, 'mono'),
        td('rooms', c.rooms.length === 0 ? '–' : el('span', {}, ...c.rooms.map(r => el('span', { class: 'pill' }, r)))),
        el('td', {}, el('button', { class: 'small danger', 'data-action': 'disconnect', onclick: ev => disconnect(ev.target, c, userId) }, 'Disconnect')))), 'not connected', 5)
    } catch (err) {
      $('user-note').textContent = 'lookup failed: ' + err.message
    }
  }

  async function disconnect (button, c, userId) {
    button.disabled = true
    try {
      await api('POST', 'connections/' + encodeURIComponent(c.connectionId) + '/disconnect')
      $('user-note').textContent = 'disconnected ' + c.connectionId + ' on ' + c.node
      setTimeout(() => lookup(userId), 300)
    } catch (err) {
      button.disabled = false
      $('user-note').textContent = 'disconnect failed: ' + err.message
    }
  }

  async function inspect (service) {
    deadService = service
    $('dead').hidden = false
    $('dead-service').textContent = service
    try {
      const { total, entries } = await api('GET', 'dead/' + encodeURIComponent(service))
      $('dead-total').textContent = total + ' in ipc:rpc:' + service + ':dead' + (total > entries.length ? ', newest ' + entries.length + ' shown' : '')
      fill('dead-letters', entries.map(d => {
        const f = d.fields
        let user = '–'
        let error = f.error || ''
        try { user = JSON.parse(f.caller).userId || '–' } catch {}
        try { const e = JSON.parse(f.error); error = e.code + ' ' + e.message + (e.data && e.data.deliveries ? ' (' + e.data.deliveries + ' deliveries)' : '') } catch {}
        return el('tr', { 'data-entry': d.entryId },
          el('td', { class: 'mono' }, d.entryId),
          el('td', { class: 'mono' }, f.method || '?'),
          el('td', {}, user),
          el('td', { class: 'mono wrap' }, f.params || ''),
          el('td', { class: 'wrap bad' }, error),
          el('td', {},
            el('button', { class: 'small quiet', 'data-action': 'requeue', onclick: () => act('POST', d.entryId, 'requeue', 're-queued') }, 'Re-queue'), ' ',
            el('button', { class: 'small danger', 'data-action': 'drop', onclick: () => act('DELETE', d.entryId, '', 'dropped') }, 'Drop')))
      }), 'no dead letters', 6)
    } catch (err) {
      $('dead-note').textContent = 'reading dead letters failed: ' + err.message
    }
    $('dead').scrollIntoView({ block: 'nearest' })
  }

  async function act (method, entryId, what, done) {
    try {
      await api(method, 'dead/' + encodeURIComponent(deadService) + '/' + encodeURIComponent(entryId) + (what ? '/' + what : ''))
      $('dead-note').textContent = entryId + ' ' + done
    } catch (err) {
      $('dead-note').textContent = entryId + ': ' + err.message
    }
    await inspect(deadService)
  }

  // --- start -------------------------------------------------------------------------------------
  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', ev => {
      ev.preventDefault()
      sessionStorage.setItem(STORE, $('token').value.trim())
      $('token').value = ''
      signedIn()
    })
    $('logout').addEventListener('click', () => signedOut(''))
    $('user-form').addEventListener('submit', ev => {
      ev.preventDefault()
      lookup($('user-id').value.trim())
    })
    if (sessionStorage.getItem(STORE)) signedIn()
    else signedOut('')
  })
})()
