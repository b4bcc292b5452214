// One client call, one trace (docs/protocol.md §3, §9): with the OpenTelemetry SDK installed in this
// process (in-memory exporter, AsyncLocalStorage context), a call through a real gateway, a real
// Redis and the Node worker SDK yields the gateway's span and the worker's span in one trace, the
// worker's the child of the gateway's, and the gateway's the child of the client's when it sent a
// `traceparent`. Local methods and the handler's own spans nest the same way.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { RpcError } from '../../src/protocol/errors.js'
import { Worker } from '../../src/worker/index.js'
import { startGateway, TestClient, type TestGateway, token } from '../helper.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
trace.setGlobalTracerProvider(provider)
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
const inner = trace.getTracer('test-handler')
const silent = { info () {}, warn () {}, error () {}, debug () {} }

let redis: TestRedis
let gw: TestGateway
let worker: Worker
let client: TestClient

before(async () => {
  redis = await startRedis()
  worker = new Worker({ redis: redis.url, service: 'traced', logger: silent })
  worker.method('traced.echo', {}, async (params: unknown) => await inner.startActiveSpan('db.query', async span => {
    span.end()
    return params
  }))
  worker.method('traced.fail', {}, () => { throw new RpcError(-32004, 'No such thing') })
  await worker.start()
  gw = await startGateway({ redis: redis.url }, app => {
    app.ipc.method('local.hello', {}, () => inner.startActiveSpan('local.work', span => {
      span.end()
      return 'hello'
    }))
  })
  client = await TestClient.connect(gw.url, { token: token({ sub: 'ada' }) })
  for (let i = 0; i < 100 && (await client.call('traced.echo', {})).error !== undefined; i++) await new Promise(resolve => setTimeout(resolve, 50))
})
after(async () => {
  await client?.close()
  await gw?.close()
  await worker?.stop()
  await redis?.stop()
  await provider.shutdown()
})

let nextId = 1000
async function call (method: string, traceparent?: string): Promise<{ frame: any, spans: ReadableSpan[] }> {
  exporter.reset()
  const id = nextId++
  const answer = client.next(f => f.id === id)
  client.send({ jsonrpc: '2.0', id, method, params: { n: 1 }, ...(traceparent === undefined ? {} : { traceparent }) })
  const frame = await answer
  return { frame, spans: exporter.getFinishedSpans() }
}

const named = (spans: ReadableSpan[], scope: string, name: string): ReadableSpan => {
  const found = spans.filter(s => s.instrumentationScope.name === scope && s.name === name)
  assert.equal(found.length, 1, `one ${scope} span ${name} in ${spans.map(s => `${s.instrumentationScope.name}:${s.name}`).join(', ')}`)
  return found[0]
}

function assertChild (child: ReadableSpan, parent: ReadableSpan): void {
  assert.equal(child.spanContext().traceId, parent.spanContext().traceId, 'one trace')
  assert.equal(child.parentSpanContext?.spanId, parent.spanContext().spanId, `${child.name} is a child of ${parent.name}`)
}

test('a call without a traceparent: the gateway span is the root, the worker span its child, the handler\'s span below', async () => {
  const { frame, spans } = await call('traced.echo')
  assert.deepEqual(frame.result, { n: 1 })
  const gateway = named(spans, 'fastify-ipc', 'traced.echo')
  const handled = named(spans, 'fastify-ipc-worker', 'traced.echo')
  const query = named(spans, 'test-handler', 'db.query')
  assert.equal(gateway.parentSpanContext, undefined)
  assert.equal(gateway.kind, SpanKind.SERVER)
  assert.deepEqual(gateway.attributes, {
    'rpc.system': 'jsonrpc', 'rpc.method': 'traced.echo', 'rpc.jsonrpc.version': '2.0', 'rpc.jsonrpc.request_id': String(nextId - 1), 'enduser.id': 'ada', 'ipc.outcome': 'ok'
  })
  assertChild(handled, gateway)
  assertChild(query, handled)
  assert.equal(handled.attributes['rpc.service'], 'traced')
  // the worker's span ends before its reply is sent, the gateway's before its answer: both are in
  assert.ok(handled.startTime[0] * 1e9 + handled.startTime[1] >= gateway.startTime[0] * 1e9 + gateway.startTime[1])
})

test('a client\'s traceparent: the gateway span continues the client\'s trace', async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  const { spans } = await call('traced.echo', `00-${traceId}-00f067aa0ba902b7-01`)
  const gateway = named(spans, 'fastify-ipc', 'traced.echo')
  const handled = named(spans, 'fastify-ipc-worker', 'traced.echo')
  assert.equal(gateway.spanContext().traceId, traceId)
  assert.equal(gateway.parentSpanContext?.spanId, '00f067aa0ba902b7')
  assert.equal(gateway.parentSpanContext?.isRemote, true)
  assertChild(handled, gateway)
})

test('a traceparent that does not parse is ignored: a new trace starts', async () => {
  const { frame, spans } = await call('traced.echo', '00-not-a-trace')
  assert.deepEqual(frame.result, { n: 1 })
  const gateway = named(spans, 'fastify-ipc', 'traced.echo')
  assert.equal(gateway.parentSpanContext, undefined)
  assertChild(named(spans, 'fastify-ipc-worker', 'traced.echo'), gateway)
})

test('an error answer marks both spans with its code', async () => {
  const { frame, spans } = await call('traced.fail')
  assert.equal(frame.error.code, -32004)
  const gateway = named(spans, 'fastify-ipc', 'traced.fail')
  const handled = named(spans, 'fastify-ipc-worker', 'traced.fail')
  assertChild(handled, gateway)
  for (const span of [gateway, handled]) {
    assert.equal(span.attributes['rpc.jsonrpc.error_code'], -32004)
    assert.equal(span.status.code, SpanStatusCode.ERROR)
  }
  assert.equal(gateway.attributes['ipc.outcome'], 'error')
})

test('a local method runs in its call\'s span: the handler\'s spans are its children', async () => {
  const { frame, spans } = await call('local.hello', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
  assert.equal(frame.result, 'hello')
  const gateway = named(spans, 'fastify-ipc', 'local.hello')
  assert.equal(gateway.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c')
  assertChild(named(spans, 'test-handler', 'local.work'), gateway)
})

test('tracing: false leaves the gateway\'s spans out; the worker\'s span is then a root', async (t) => {
  const plain = await startGateway({ redis: redis.url, tracing: false })
  t.after(() => plain.close())
  const other = await TestClient.connect(plain.url, { token: token({ sub: 'bob' }) })
  t.after(() => other.close())
  for (let i = 0; i < 100 && (await other.call('traced.echo', {})).error !== undefined; i++) await new Promise(resolve => setTimeout(resolve, 50))
  exporter.reset()
  assert.deepEqual((await other.call('traced.echo', { n: 2 })).result, { n: 2 })
  const spans = exporter.getFinishedSpans()
  assert.deepEqual(spans.filter(s => s.instrumentationScope.name === 'fastify-ipc'), [])
  assert.equal(named(spans, 'fastify-ipc-worker', 'traced.echo').parentSpanContext, undefined)
})

test('an unknown method\'s span is named "unknown", its asked-for name an attribute', async () => {
  const { frame, spans } = await call('nope.nothing')
  assert.equal(frame.error.code, -32601)
  const gateway = named(spans, 'fastify-ipc', 'unknown')
  assert.equal(gateway.attributes['rpc.method'], 'nope.nothing')
  assert.equal(gateway.attributes['rpc.jsonrpc.error_code'], -32601)
})
