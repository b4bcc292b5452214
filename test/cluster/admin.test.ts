// The admin page in headless Chromium against two gateway processes, a worker and real traffic
// (docs/protocol.md §10): refused without the key; with it, its numbers are the traffic sent and
// what each node's /metrics says; a user's connections found across nodes and one disconnected;
// dead letters re-queued (and run by the worker) or dropped; a stopped node leaves the page.
// Takes a screenshot under load (docs/images/admin.png when ADMIN_SCREENSHOT=1, after
// ADMIN_SCREENSHOT_SECONDS of load).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { type Browser, chromium, type Page } from 'playwright-core'
import type { GatewayProcess } from '../helpers/processes.js'
import { methodListed, until } from '../helpers/processes.js'
import { type Cluster, connect, startCluster } from './cluster.js'

const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const ADMIN_KEY = 'admin-key-0123456789abcdef'

let cluster: Cluster
let raw: Redis
let browser: Browser

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is not installed: apt-get install chromium`)
  cluster = await startCluster({ nodes: ['node-a', 'node-b'], workers: [{ service: 'shop' }], env: { IPC_ADMIN_KEY: ADMIN_KEY } })
  raw = new Redis(cluster.redis.url)
  await methodListed(cluster.gateways, 'shop.echo')
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
})
after(async () => {
  await browser?.close()
  raw?.disconnect()
  await cluster?.stop()
})

/** `ipc_rpc_duration_seconds_count` of one node: method -> {calls, errors} */
async function callsIn (gw: GatewayProcess): Promise<Map<string, { calls: number, errors: number }>> {
  const text = await (await fetch(`${gw.http}/metrics`)).text()
  const out = new Map<string, { calls: number, errors: number }>()
  for (const m of text.matchAll(/^ipc_rpc_duration_seconds_count\{method="([^"]+)",outcome="(ok|error)"\} (\d+)$/gm)) {
    const c = out.get(m[1]) ?? { calls: 0, errors: 0 }
    c.calls += Number(m[3])
    if (m[2] === 'error') c.errors += Number(m[3])
    out.set(m[1], c)
  }
  return out
}

async function authenticatedIn (gw: GatewayProcess): Promise<number> {
  const text = await (await fetch(`${gw.http}/metrics`)).text()
  return Number(/^ipc_connections\{state="authenticated"\} (\d+)$/m.exec(text)?.[1])
}

/** the text of `[data-field=field]` in the row of `table` whose `attr` is `key` */
async function cell (page: Page, table: string, attr: string, key: string, field: string): Promise<string> {
  return await page.locator(`#${table} tr[${attr}="${key}"] [data-field="${field}"]`).innerText({ timeout: 1000 })
}
const int = (s: string): number => Number(s.replace(/,/g, ''))

test('without the key the data endpoints answer 401 and the page asks for it', async () => {
  const [a] = cluster.gateways
  for (const authorization of [undefined, 'Bearer wrong-key-0123456789abcdef', `Bearer ${ADMIN_KEY}x`, ADMIN_KEY]) {
    for (const path of ['overview', 'users/alice', 'dead/shop']) {
      const res = await fetch(`${a.http}/admin/api/${path}`, { headers: authorization === undefined ? {} : { authorization } })
      assert.equal(res.status, 401, `${path} with ${authorization}`)
      assert.deepEqual(Object.keys(await res.json() as object).sort(), ['error', 'message'])
    }
  }
  for (const [method, path] of [['POST', 'connections/x/disconnect'], ['POST', 'dead/shop/1-0/requeue'], ['DELETE', 'dead/shop/1-0']]) {
    assert.equal((await fetch(`${a.http}/admin/api/${path}`, { method })).status, 401, `${method} ${path}`)
  }
  const page = await browser.newPage()
  try {
    await page.goto(`${a.http}/admin`)
    await page.locator('#login-form').waitFor()
    assert.equal(await page.locator('#main').isVisible(), false)
    await page.fill('#token', 'not-the-key-0123456789')
    await page.click('#login-form button')
    await page.locator('#login-error').getByText('refused').waitFor()
    assert.equal(await page.locator('#main').isVisible(), false)
  } finally {
    await page.close()
  }
})

test('the page shows every node\'s connections and calls as sent and as /metrics says; lookup, disconnect, dead letters', { timeout: 120000 }, async (t) => {
  const [a, b] = cluster.gateways
  const page = await browser.newPage({ viewport: { width: 1440, height: 1400 } })
  t.after(() => page.close())
  const pageErrors: string[] = []
  page.on('pageerror', err => pageErrors.push(err.message))
  await page.goto(`${a.http}/admin/`)
  await page.fill('#token', ADMIN_KEY)
  await page.click('#login-form button')
  await page.locator('#main').waitFor()

  // traffic: 3 connections on node-a, 2 on node-b (alice on both)
  const onA = await Promise.all([['alice', ['lobby', 'vip']], ['bob', ['lobby']], ['carol', ['lobby']]].map(async ([u, r]) => await connect(t, a, u as string, r as string[])))
  const onB = await Promise.all([['dave', ['lobby']], ['alice', ['lobby', 'vip']]].map(async ([u, r]) => await connect(t, b, u as string, r as string[])))
  const calls = async (c: typeof onA[number], n: number, params: (i: number) => unknown, method = 'shop.echo'): Promise<void> => {
    await Promise.all(Array.from({ length: n }, async (_, i) => await c.call(method, params(i))))
  }
  await calls(onA[0], 30, i => ({ n: i, tag: 'a' }))
  await calls(onA[1], 5, () => ({ n: 'not a number', tag: 'bad' })) // -32602
  await calls(onB[0], 20, i => ({ n: i, tag: 'b' }))
  await calls(onB[1], 4, i => ({ key: `k${i}` }), 'shop.record')

  // polled through locators: the page's Content-Security-Policy forbids evaluating strings in it
  const shown = async (): Promise<string[]> => await Promise.all([
    cell(page, 'nodes', 'data-node', 'node-a', 'connections'), cell(page, 'nodes', 'data-node', 'node-b', 'connections'),
    cell(page, 'methods', 'data-method', 'shop.echo', 'calls'), cell(page, 'methods', 'data-method', 'shop.record', 'calls')
  ].map(async p => await p.catch(() => '')))
  await until(async () => (await shown()).join() === '3,2,55,4', 15000, 'the page to show the traffic sent', 250)
  // the same numbers as each node's /metrics
  for (const gw of [a, b]) {
    assert.equal(int(await cell(page, 'nodes', 'data-node', gw.nodeId, 'connections')), await authenticatedIn(gw), gw.nodeId)
  }
  const [ma, mb] = await Promise.all([callsIn(a), callsIn(b)])
  const rows = await Promise.all((await page.locator('#methods tbody tr[data-method]').all()).map(async tr => (await tr.getAttribute('data-method'))!))
  assert.deepEqual(new Set(rows), new Set([...ma.keys(), ...mb.keys()]))
  for (const method of rows) {
    const want = { calls: (ma.get(method)?.calls ?? 0) + (mb.get(method)?.calls ?? 0), errors: (ma.get(method)?.errors ?? 0) + (mb.get(method)?.errors ?? 0) }
    const got = { calls: int(await cell(page, 'methods', 'data-method', method, 'calls')), errors: int(await cell(page, 'methods', 'data-method', method, 'errors')) }
    assert.deepEqual(got, want, method)
  }
  assert.equal(await cell(page, 'methods', 'data-method', 'shop.echo', 'errors'), '5')
  assert.equal(await cell(page, 'methods', 'data-method', 'rpc.auth', 'calls'), '5')
  assert.equal(await cell(page, 'methods', 'data-method', 'rpc.join', 'calls'), '7')
  assert.match(await cell(page, 'methods', 'data-method', 'shop.echo', 'errorRate'), /^9\.1 %$/) // 5 of 55
  assert.match(await cell(page, 'methods', 'data-method', 'shop.echo', 'p99'), / ms$/)
  assert.equal(await cell(page, 'rooms', 'data-room', 'lobby', 'members'), '5')
  assert.equal(await cell(page, 'rooms', 'data-room', 'vip', 'members'), '2')
  assert.equal(await page.locator('#services tr[data-service="shop"] [data-field="workers"] .pill').count(), 1)
  assert.match(await page.locator('#errors tbody').innerText(), /shop\.echo\s+-32602\s+Invalid params\s+bob/)

  // a user's connections, across nodes; one disconnected from node-a's page, on node-b
  await page.fill('#user-id', 'alice')
  await page.click('#user-form button')
  await page.locator('#user tr[data-connection]').nth(1).waitFor()
  assert.deepEqual(await page.locator('#user tr[data-connection] [data-field="node"]').allInnerTexts(), ['node-a', 'node-b'])
  assert.deepEqual(await page.locator(`#user tr[data-connection="${onB[1].connectionId}"] [data-field="rooms"] .pill`).allInnerTexts(), ['lobby', 'vip'])
  await page.click(`#user tr[data-connection="${onB[1].connectionId}"] button[data-action="disconnect"]`)
  assert.equal((await onB[1].closed).code, 4000)
  await until(async () => await page.locator('#user tr[data-connection]').count() === 1, 5000, 'the lookup to show one connection left')
  assert.equal(await page.locator('#user tr[data-connection] [data-field="node"]').innerText(), 'node-a')

  // dead letters: two, as a worker leaves them; one re-queued (the worker runs it), one dropped
  const dead = async (key: string): Promise<string> => (await raw.xadd('ipc:rpc:shop:dead', '*',
    'v', '1', 'id', `node-a:old.0.${key}`, 'method', 'shop.record', 'params', JSON.stringify({ key }),
    'caller', JSON.stringify({ userId: 'erin', connectionId: 'gone', node: 'node-a', roles: [], claims: {} }),
    'reply', 'ipc:reply:node-a', 'deadline', String(Date.now() - 60000),
    'error', JSON.stringify({ code: -32603, message: 'Internal error', data: { deliveries: 4 } })))!
  const first = await dead('dead-1')
  const second = await dead('dead-2')
  await page.locator('#services tr[data-service="shop"] [data-field="dead"]').getByText('2', { exact: true }).waitFor({ timeout: 10000 })
  await page.click('#services tr[data-service="shop"] button[data-action="inspect"]')
  await page.locator(`#dead-letters tr[data-entry="${second}"]`).waitFor()
  assert.equal(await page.locator('#dead-letters tr[data-entry]').count(), 2)
  assert.match(await page.locator(`#dead-letters tr[data-entry="${first}"]`).innerText(), /shop\.record\s+erin\s+\{"key":"dead-1"\}\s+-32603 Internal error \(4 deliveries\)/)
  await page.click(`#dead-letters tr[data-entry="${first}"] button[data-action="requeue"]`)
  await page.locator(`#dead-letters tr[data-entry="${first}"]`).waitFor({ state: 'detached' })
  await until(async () => (await onA[1].call('shop.runs', {})).result?.['dead-1'] === 1, 10000, 'the worker to run the re-queued request')
  assert.deepEqual((await raw.xrange('ipc:rpc:shop:dead', '-', '+')).map(([id]) => id), [second])
  await page.click(`#dead-letters tr[data-entry="${second}"] button[data-action="drop"]`)
  await page.locator('#dead-letters td.empty').waitFor()
  assert.equal(await raw.xlen('ipc:rpc:shop:dead'), 0)
  assert.equal((await onA[1].call('shop.runs', {})).result?.['dead-2'], undefined, 'a dropped request never runs')
  assert.equal((await fetch(`${a.http}/admin/api/dead/shop/${second}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status, 404)

  // under load: calls on both nodes, some failing, in waves, while the page draws; one dead letter
  const crashed = await dead('dead-3')
  await raw.xadd('ipc:rpc:shop:dead', '*', 'v', '1', 'id', 'node-b:old.0.9', 'method', 'shop.crash', 'params', '{}',
    'caller', JSON.stringify({ userId: 'frank', connectionId: 'gone', node: 'node-b', roles: [], claims: {} }),
    'reply', 'ipc:reply:node-b', 'deadline', String(Date.now() - 30000), 'error', JSON.stringify({ code: -32603, message: 'Internal error', data: { deliveries: 4 } }))
  const loadSeconds = Number(process.env.ADMIN_SCREENSHOT_SECONDS ?? 4)
  const began = Date.now()
  let stop = false
  const load = [...onA, onB[0]].map(async (c, k) => {
    for (let i = 0; !stop; i++) {
      const wave = 1 + Math.sin((Date.now() - began) / 7000 + k)
      await Promise.all(Array.from({ length: 2 + Math.round(4 * wave) }, async (_, j) => await c.call('shop.echo', i % 60 === 0 && j === 0 ? { n: 'x', tag: 'bad' } : { n: j, tag: 'load' })))
      await sleep(15)
    }
  })
  await sleep(loadSeconds * 1000)
  await page.locator('#user-id').fill('alice')
  await page.click('#user-form button')
  await page.click('#services tr[data-service="shop"] button[data-action="inspect"]')
  await page.waitForTimeout(1500)
  const file = process.env.ADMIN_SCREENSHOT === '1' ? 'docs/images/admin.png' : join(tmpdir(), `fastify-ipc-admin-${process.pid}.png`)
  await page.screenshot({ path: file, fullPage: true })
  stop = true
  await Promise.all(load)
  assert.ok(int(await page.locator('#kpi-rate').innerText()) > 0)
  assert.equal(await page.locator(`#dead-letters tr[data-entry="${crashed}"]`).count(), 1)

  // a node that stops drops out of the page within its snapshot's 5 s
  await b.kill()
  await until(async () => await page.locator('#nodes tr[data-node]').count() === 1, 10000, 'node-b to leave the page')
  assert.equal(await page.locator('#kpi-nodes').innerText(), '1')
  assert.deepEqual(pageErrors, [])
})
