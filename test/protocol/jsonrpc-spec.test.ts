// The examples section of the JSON-RPC 2.0 specification, frame for frame (spaces and line breaks
// included) against a real gateway. Answers are compared as parsed JSON: id, result and error.code
// exactly. The specification's error messages are illustrative; ours say more ("Method not found:
// foobar"), so a message must start with the specification's text, compared without regard to case
// ("Invalid request" against its "Invalid Request"). A batch's answers may come in any order: they
// are compared as sets keyed by id (and error code, for the several with id null).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Type from 'typebox'
import { once } from 'node:events'
import WebSocket from 'ws'
import { startGateway, token } from '../helper.js'

const Num = Type.Optional(Type.Number())

interface Answer { jsonrpc?: string, id?: unknown, result?: unknown, error?: { code: number, message: string } }

/** One connection: `exchange` sends a frame and returns what came back for it (undefined: nothing). */
async function connect (url: string): Promise<{ exchange: (frame: string) => Promise<Answer | Answer[] | undefined>, close: () => Promise<void> }> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token({ sub: '1' })}` } })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const inbox: unknown[] = []
  let wake = (): void => {}
  ws.on('message', data => { inbox.push(JSON.parse(data.toString())); wake() })
  const next = async (): Promise<unknown> => {
    while (inbox.length === 0) await new Promise<void>(resolve => { wake = resolve })
    return inbox.shift()
  }
  let probes = 0
  // A ping round trip after the frame: anything the frame caused arrives before its answer.
  const probe = async (): Promise<unknown[]> => {
    const id = `probe-${++probes}`
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method: 'rpc.ping' }))
    const before: unknown[] = []
    for (let m = await next(); (m as Answer).id !== id; m = await next()) before.push(m)
    return before
  }
  return {
    async exchange (frame) {
      ws.send(frame)
      // Two round trips: a batch answers after all its entries, which may take a turn longer.
      const got = [...await probe(), ...await probe()]
      assert.ok(got.length <= 1, `one answer at most, got ${JSON.stringify(got)}`)
      return got[0] as Answer | Answer[] | undefined
    },
    close: async () => { ws.close(); await once(ws, 'close') }
  }
}

function same (actual: Answer | Answer[] | undefined, expected: string): void {
  const want = JSON.parse(expected) as Answer
  assert.ok(actual !== undefined && !Array.isArray(actual), `expected ${expected}, got ${JSON.stringify(actual)}`)
  assert.equal(actual.jsonrpc, '2.0')
  assert.deepEqual(actual.id, want.id)
  if (want.error === undefined) {
    assert.deepEqual(actual.result, want.result)
    assert.equal(actual.error, undefined)
  } else {
    assert.equal(actual.result, undefined)
    assert.equal(actual.error?.code, want.error.code, JSON.stringify(actual))
    assert.ok(actual.error.message.toLowerCase().startsWith(want.error.message.toLowerCase()), `"${actual.error.message}" starts with "${want.error.message}"`)
  }
}

function sameBatch (actual: Answer | Answer[] | undefined, expected: string): void {
  const want = JSON.parse(expected) as Answer[]
  assert.ok(Array.isArray(actual), `a batch answer, got ${JSON.stringify(actual)}`)
  assert.equal(actual.length, want.length, JSON.stringify(actual))
  const key = (a: Answer): string => JSON.stringify([a.id, a.error?.code ?? null])
  const byKey = new Map(actual.map(a => [key(a), a]))
  for (const w of want) {
    assert.equal(actual.filter(x => key(x) === key(w)).length, want.filter(x => key(x) === key(w)).length, `answers for ${key(w)} in ${JSON.stringify(actual)}`)
    same(byKey.get(key(w)), JSON.stringify(w))
  }
}

test('the JSON-RPC 2.0 specification\'s examples, verbatim', async (t) => {
  const notified: Array<[string, unknown]> = []
  const gw = await startGateway({}, app => {
    app.ipc.method('subtract', { params: Type.Object({ minuend: Type.Number(), subtrahend: Type.Number() }) },
      ({ minuend, subtrahend }) => minuend - subtrahend)
    app.ipc.method('sum', { params: Type.Object({ a: Num, b: Num, c: Num }) },
      ({ a = 0, b = 0, c = 0 }) => a + b + c)
    app.ipc.method('update', { params: Type.Object({ a: Num, b: Num, c: Num, d: Num, e: Num }) },
      params => { notified.push(['update', params]) })
    app.ipc.method('notify_hello', { params: Type.Object({ n: Type.Number() }) }, params => { notified.push(['notify_hello', params]) })
    app.ipc.method('notify_sum', { params: Type.Object({ a: Num, b: Num, c: Num }) }, params => { notified.push(['notify_sum', params]) })
    app.ipc.method('get_data', {}, () => ['hello', 5])
  })
  t.after(() => gw.close())
  const { exchange, close } = await connect(gw.url)
  t.after(close)

  // rpc call with positional parameters
  same(await exchange('{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}'),
    '{"jsonrpc": "2.0", "result": 19, "id": 1}')
  same(await exchange('{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}'),
    '{"jsonrpc": "2.0", "result": -19, "id": 2}')

  // rpc call with named parameters
  same(await exchange('{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}'),
    '{"jsonrpc": "2.0", "result": 19, "id": 3}')
  same(await exchange('{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}'),
    '{"jsonrpc": "2.0", "result": 19, "id": 4}')

  // a Notification
  assert.equal(await exchange('{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}'), undefined)
  assert.equal(await exchange('{"jsonrpc": "2.0", "method": "foobar"}'), undefined)
  assert.deepEqual(notified.splice(0), [['update', { a: 1, b: 2, c: 3, d: 4, e: 5 }]], 'the notification ran')

  // rpc call of non-existent method
  same(await exchange('{"jsonrpc": "2.0", "method": "foobar", "id": "1"}'),
    '{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}')

  // rpc call with invalid JSON
  same(await exchange('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]'),
    '{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}')

  // rpc call with invalid Request object
  same(await exchange('{"jsonrpc": "2.0", "method": 1, "params": "bar"}'),
    '{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}')

  // rpc call Batch, invalid JSON
  same(await exchange(`[
  {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
  {"jsonrpc": "2.0", "method"
]`), '{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}')

  // rpc call with an empty Array
  same(await exchange('[]'),
    '{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}')

  // rpc call with an invalid Batch (but not empty)
  sameBatch(await exchange('[1]'), `[
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}
]`)

  // rpc call with invalid Batch
  sameBatch(await exchange('[1,2,3]'), `[
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
  {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}
]`)

  // rpc call Batch
  sameBatch(await exchange(`[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"} 
    ]`), `[
        {"jsonrpc": "2.0", "result": 7, "id": "1"},
        {"jsonrpc": "2.0", "result": 19, "id": "2"},
        {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
        {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
        {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
    ]`)
  assert.deepEqual(notified.splice(0), [['notify_hello', { n: 7 }]])

  // rpc call Batch (all notifications)
  assert.equal(await exchange(`[
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
    ]`), undefined)
  assert.deepEqual(notified.splice(0).sort(), [['notify_hello', { n: 7 }], ['notify_sum', { a: 1, b: 2, c: 4 }]])
})

test('by-position params that do not fit are -32602 with a clear message', async (t) => {
  const gw = await startGateway({}, app => {
    app.ipc.method('subtract', { params: Type.Object({ minuend: Type.Number(), subtrahend: Type.Number() }) },
      ({ minuend, subtrahend }) => minuend - subtrahend)
    app.ipc.method('get_data', {}, () => ['hello', 5])
  })
  t.after(() => gw.close())
  const { exchange, close } = await connect(gw.url)
  t.after(close)
  const error = async (frame: string): Promise<{ code: number, message: string, data?: any }> => {
    const a = await exchange(frame) as Answer & { error: { code: number, message: string, data?: any } }
    return a.error
  }
  assert.deepEqual(await error('{"jsonrpc":"2.0","id":1,"method":"subtract","params":[1,2,3]}'),
    { code: -32602, message: 'Invalid params: subtract takes at most 2 (minuend, subtrahend), got 3 by position' })
  assert.deepEqual(await error('{"jsonrpc":"2.0","id":2,"method":"get_data","params":[1]}'),
    { code: -32602, message: 'Invalid params: get_data takes no params, got 1 by position' })
  const bad = await error('{"jsonrpc":"2.0","id":3,"method":"subtract","params":["42",23]}')
  assert.equal(bad.code, -32602)
  assert.equal(bad.data.errors[0].path, '/minuend')
  assert.equal((await error('{"jsonrpc":"2.0","id":4,"method":"subtract","params":[42]}')).code, -32602, 'a missing required one')
  assert.deepEqual(await exchange('{"jsonrpc":"2.0","id":5,"method":"get_data","params":[]}'), { jsonrpc: '2.0', id: 5, result: ['hello', 5] }, '[] is no params')
  // built-ins take arrays the same way
  assert.equal((await exchange('{"jsonrpc":"2.0","id":6,"method":"rpc.ping","params":[]}') as Answer).error, undefined)
  assert.equal((await error('{"jsonrpc":"2.0","id":7,"method":"rpc.ping","params":[1]}')).code, -32602)
  assert.deepEqual(await exchange('{"jsonrpc":"2.0","id":8,"method":"rpc.join","params":["lobby"]}'),
    { jsonrpc: '2.0', id: 8, error: { code: -32003, message: 'Not allowed to join room "lobby"' } })
  const auth = await exchange(`{"jsonrpc":"2.0","id":9,"method":"rpc.auth","params":["${token({ sub: '1' })}"]}`) as Answer
  assert.equal((auth.result as { userId: string }).userId, '1')
  assert.equal((await error('{"jsonrpc":"2.0","id":10,"method":"subtract","params":"42"}')).code, -32600, 'params neither object nor array')
})
