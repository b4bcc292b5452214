// The admin routes of one node with the in-memory broker (docs/protocol.md §10): off unless
// configured; the admin key or a JWT with the admin role, nothing else, opens the JSON; the page's
// files; the overview of this node alone. The page across nodes: test/cluster/admin.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { until } from '../helpers/processes.js'
import { API_KEY, startGateway, TestClient, token } from '../helper.js'
import { quantileMs } from '../../src/gateway/admin-overview.js'
import { STATS_BUCKETS } from '../../src/protocol/admin.js'

const ADMIN_KEY = 'admin-key-0123456789abcdef'
const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` })

test('without adminKey or adminRole there is no admin page', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.close())
  for (const path of ['/admin', '/admin/', '/admin/admin.js', '/admin/api/overview']) {
    assert.equal((await fetch(gw.http + path, { headers: bearer(API_KEY) })).status, 404, path)
  }
})

test('the admin key or a JWT with the admin role opens the JSON; API keys, other roles and revoked tokens do not', async (t) => {
  const gw = await startGateway({ adminKey: ADMIN_KEY, adminRole: 'ops' })
  t.after(() => gw.close())
  const overview = async (headers: Record<string, string>): Promise<number> => (await fetch(`${gw.http}/admin/api/overview`, { headers })).status
  assert.equal(await overview(bearer(ADMIN_KEY)), 200)
  assert.equal(await overview(bearer(token({ sub: 'olga', roles: ['ops'] }))), 200)
  assert.equal(await overview({}), 401)
  assert.equal(await overview(bearer(API_KEY)), 401)
  assert.equal(await overview(bearer(token({ sub: 'mallory', roles: ['user'] }))), 401)
  assert.equal(await overview(bearer(token({ sub: 'olga', roles: ['ops'] }, { ttl: -10 }))), 401)
  assert.equal(await overview({ authorization: ADMIN_KEY }), 401)
  const olga = token({ sub: 'olga', roles: ['ops'] })
  await gw.app.ipc.revoke({ userId: 'olga' })
  assert.equal(await overview(bearer(olga)), 401)
})

test('the page is served with a strict Content-Security-Policy; the overview and lookup show this node; no dead letters without Redis', async (t) => {
  const gw = await startGateway({ adminKey: ADMIN_KEY, nodeId: 'solo' })
  t.after(() => gw.close())
  const redirect = await fetch(`${gw.http}/admin`, { redirect: 'manual' })
  assert.equal(redirect.status, 302)
  assert.equal(redirect.headers.get('location'), 'admin/')
  const page = await fetch(`${gw.http}/admin/`)
  assert.equal(page.status, 200)
  assert.match(page.headers.get('content-type')!, /^text\/html/)
  assert.match(page.headers.get('content-security-policy')!, /default-src 'self'/)
  assert.match(await page.text(), /<script src="admin.js" defer><\/script>/)
  assert.match((await fetch(`${gw.http}/admin/admin.js`)).headers.get('content-type')!, /^text\/javascript/)

  const c = await TestClient.connect(gw.url, { auth: token({ sub: 'ann' }) })
  t.after(() => c.close())
  await c.call('rpc.ping')
  assert.equal((await c.call('nope.nothing')).error?.code, -32601)
  const get = async (path: string): Promise<any> => await (await fetch(`${gw.http}/admin/api/${path}`, { headers: bearer(ADMIN_KEY) })).json()
  let o: any
  await until(async () => (o = await get('overview')).methods.some((m: any) => m.method === 'rpc.ping'), 5000, 'the snapshot to count the calls')
  assert.equal(o.node, 'solo')
  assert.deepEqual(o.nodes.map((n: any) => [n.node, n.connections]), [['solo', { pending: 0, authenticated: 1 }]])
  assert.deepEqual(o.services, [])
  const ping = o.methods.find((m: any) => m.method === 'rpc.ping')
  assert.deepEqual([ping.calls, ping.errors], [1, 0])
  assert.deepEqual(o.errors.map((e: any) => [e.method, e.code, e.userId]), [['nope.nothing', -32601, 'ann']])
  assert.equal(o.history.calls.length, 60)

  assert.deepEqual((await get('users/ann')).connections.map((x: any) => [x.node, x.userId, x.rooms]), [['solo', 'ann', []]])
  assert.deepEqual((await get('users/nobody')).connections, [])
  const dead = await fetch(`${gw.http}/admin/api/dead/shop`, { headers: bearer(ADMIN_KEY) })
  assert.equal(dead.status, 503)
  assert.equal((await fetch(`${gw.http}/admin/api/dead/bad%20name`, { headers: bearer(ADMIN_KEY) })).status, 400)

  const closed = c.closed
  assert.equal((await fetch(`${gw.http}/admin/api/connections/${(await get('users/ann')).connections[0].connectionId}/disconnect`, { method: 'POST', headers: bearer(ADMIN_KEY) })).status, 200)
  assert.equal((await closed).code, 4000)
})

test('latency quantiles from the histogram buckets, as histogram_quantile computes them', () => {
  const buckets = new Array<number>(STATS_BUCKETS.length + 1).fill(0)
  assert.equal(quantileMs(0.5, buckets), null)
  buckets[2] = 100 // 1 ms < d <= 2.5 ms
  assert.equal(quantileMs(0.5, buckets), 1.75)
  buckets[STATS_BUCKETS.length] = 1 // over the last bound: the last bound
  assert.equal(quantileMs(1, buckets), 10000)
})
