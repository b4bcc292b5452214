// deploy/grafana/fastify-ipc.json against a real gateway: every metric its queries name, and every
// label they group by or print, is in the /metrics of a gateway on a real Redis with a worker that
// has answered calls (so the labelled series exist), and the dashboard is importable as it stands
// (one Prometheus data source input, unique panel ids, a query in every panel).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { RpcError } from '../../src/protocol/errors.js'
import { Worker } from '../../src/worker/index.js'
import { startGateway, TestClient, token } from '../helper.js'
import { startRedis } from '../helpers/redis.js'

const dashboard = JSON.parse(readFileSync(fileURLToPath(new URL('../../deploy/grafana/fastify-ipc.json', import.meta.url)), 'utf8'))
const silent = { info () {}, warn () {}, error () {}, debug () {} }
/** labels Prometheus adds to every series it scrapes */
const scrapeLabels = new Set(['job', 'instance'])

interface Panel { id: number, type: string, title: string, datasource?: { uid: string }, targets?: Array<{ expr: string, legendFormat?: string, datasource?: { uid: string } }> }

/** metric name -> the label names its series carry, from Prometheus text */
function series (text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? /.exec(line)
    if (m === null) continue
    const labels = out.get(m[1]) ?? new Set<string>()
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(l[1])
    out.set(m[1], labels)
  }
  return out
}

test('the dashboard is importable: one data source input, unique ids, a query in every panel', () => {
  assert.deepEqual(dashboard.__inputs.map((i: { name: string, pluginId: string }) => [i.name, i.pluginId]), [['DS_PROMETHEUS', 'prometheus']])
  const panels = dashboard.panels as Panel[]
  assert.equal(new Set(panels.map(p => p.id)).size, panels.length)
  for (const p of panels.filter(p => p.type !== 'row')) {
    assert.ok((p.targets ?? []).length > 0, `${p.title}: no query`)
    assert.equal(p.datasource?.uid, '${DS_PROMETHEUS}', p.title)
    for (const t of p.targets!) assert.equal(t.datasource?.uid, '${DS_PROMETHEUS}', p.title)
  }
})

test('every metric and label the dashboard queries, a real gateway with Redis and a worker exports', async (t) => {
  const redis = await startRedis()
  const closing: Array<() => Promise<void>> = [async () => await redis.stop()]
  // after hooks run in the order they were added: close the other way round, Redis last
  t.after(async () => { for (const close of closing.reverse()) await close() })
  const worker = new Worker({ redis: redis.url, service: 'dash', logger: silent })
  worker.method('dash.echo', {}, (params: unknown) => params)
  worker.method('dash.fail', {}, () => { throw new RpcError(-32004, 'No such thing') })
  await worker.start()
  closing.push(async () => await worker.stop())
  const gw = await startGateway({ redis: redis.url })
  closing.push(async () => await gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: 'ada' }) })
  closing.push(async () => await client.close())
  for (let i = 0; i < 100 && (await client.call('dash.echo', {})).error !== undefined; i++) await new Promise(resolve => setTimeout(resolve, 50))
  assert.equal((await client.call('dash.fail', {})).error?.code, -32004)
  await gw.app.ipc.publish({ target: 'user:ada', event: 'dash.tick', data: 1 })
  await client.event('dash.tick')
  // a refused upgrade: the refusals' series by reason
  await assert.rejects(TestClient.connect(gw.url, { token: 'not-a-token' }), /HTTP 401/)

  const exported = series(await (await fetch(`${gw.http}/metrics`)).text())
  const queries = (dashboard.panels as Panel[]).flatMap(p => (p.targets ?? []).map(t => ({ panel: p.title, ...t })))
  queries.push({ panel: 'variable job', expr: dashboard.templating.list[0].query.query })
  let checked = 0
  for (const { panel, expr, legendFormat } of queries) {
    const names = [...new Set([...expr.matchAll(/\b(ipc_[a-z0-9_]+)\b/g)].map(m => m[1]))]
    assert.ok(names.length > 0, `${panel}: no ipc_* metric in ${expr}`)
    const labels = new Set<string>()
    for (const name of names) {
      assert.ok(exported.has(name), `${panel}: ${name} is not exported by /metrics`)
      for (const l of exported.get(name)!) labels.add(l)
      checked++
    }
    const used = [
      ...[...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap(m => m[1].split(',').map(s => s.trim())),
      ...[...expr.matchAll(/\{([^}]*)\}/g)].flatMap(m => [...m[1].matchAll(/([a-z_]+)\s*=~?/g)].map(l => l[1])),
      ...[...(legendFormat ?? '').matchAll(/\{\{(\w+)\}\}/g)].map(m => m[1])
    ]
    for (const label of used) {
      if (scrapeLabels.has(label)) continue
      assert.ok(labels.has(label), `${panel}: label "${label}" is on no series of ${names.join(', ')}`)
    }
  }
  // the per-service figures come from Redis, for the worker's service
  for (const name of ['ipc_workers', 'ipc_redis_stream_lag', 'ipc_redis_stream_pending', 'ipc_redis_dead_letters']) {
    assert.ok(exported.get(name)?.has('service'), `${name}{service="dash"}`)
  }
  assert.ok(checked >= 25, `${checked} metric references checked`)
})
