// The ioredis behaviour src/broker/redis-wire.ts relies on, against the ioredis version installed
// and a real redis-server: a `Command` whose `toWritable` we wrote is sent as is and answered,
// `sendCommand` writes into `redis.stream` at once (so corking it batches a turn's commands),
// keyPrefix applies to a `Command` made with it, and EXEC answers with `Error`s in its list.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Socket } from 'node:net'
import { Command, Redis } from 'ioredis'
import { arrayOf, bulk, command, encoded, sendTogether } from '../../src/broker/redis-wire.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'

let server: TestRedis
let redis: Redis

before(async () => {
  server = await startRedis()
  redis = new Redis(server.url, { lazyConnect: true, enableOfflineQueue: false, enableAutoPipelining: true })
  await redis.connect()
})
after(async () => {
  redis.disconnect()
  await server.stop()
})

test('a hand-encoded command is the bytes ioredis writes, and Redis answers it', async () => {
  const args = ['wire:stream', 'MAXLEN', '~', '1000', '*', 'id', 'héllo', 'params', '{"a":[1,2]}']
  const text = arrayOf(args.length + 1) + ['xadd', ...args].map(bulk).join('')
  assert.equal(text, new Command('xadd', args).toWritable(new Socket()), 'the same RESP as ioredis encodes')
  const cmd = encoded('xadd', text)
  sendTogether(redis, [cmd])
  const id = String(await cmd.promise) // a Buffer: no reply encoding is asked for
  assert.match(id, /^\d+-\d+$/)
  assert.deepEqual(await redis.xrange('wire:stream', '-', '+'), [[id, args.slice(5)]])
})

test('commands sent together are written into the corked connection at once, and leave in one write', async () => {
  const socket = redis.stream
  assert.ok(socket instanceof Socket, 'redis.stream is the connection\'s socket')
  const commands = ['a', 'b', 'c'].map(v => command(redis, 'rpush', ['wire:list', v]))
  // what the socket holds when sendTogether lets it go
  let held = -1
  let corked = -1
  const uncork = socket.uncork
  socket.uncork = function (this: Socket) {
    held = this.writableLength
    corked = this.writableCorked
    uncork.call(this)
  }
  try {
    sendTogether(redis, commands)
  } finally {
    socket.uncork = uncork
  }
  assert.equal(corked, 1)
  assert.equal(held, commands.reduce((n, c) => n + Buffer.byteLength(c.toWritable(socket) as string), 0), 'sendCommand wrote each command into the socket at once')
  assert.equal(socket.writableCorked, 0)
  assert.deepEqual(await Promise.all(commands.map(c => c.promise)), [1, 2, 3])
})

test('a command made for a prefixing client gets its keyPrefix', async () => {
  const prefixed = new Redis(server.url, { lazyConnect: true, keyPrefix: 'pre:' })
  try {
    await prefixed.connect()
    const c = command(prefixed, 'set', ['k', 'v'])
    sendTogether(prefixed, [c])
    assert.equal(String(await c.promise), 'OK')
    assert.equal(await redis.get('pre:k'), 'v')
  } finally {
    prefixed.disconnect()
  }
})

test('EXEC answers with a list whose failed commands are Errors, and the queued ones say QUEUED', async () => {
  await redis.set('wire:string', 'x')
  const commands = [command(redis, 'multi', []), command(redis, 'rpush', ['wire:string', 'r']), command(redis, 'pexpire', ['wire:string', 1000]), command(redis, 'exec', [])]
  sendTogether(redis, commands)
  assert.deepEqual((await Promise.all(commands.slice(0, 3).map(c => c.promise))).map(String), ['OK', 'QUEUED', 'QUEUED'])
  const results = await commands[3].promise as unknown[]
  assert.equal(results.length, 2)
  assert.ok(results[0] instanceof Error)
  assert.match((results[0] as Error).message, /WRONGTYPE/)
  assert.equal(results[1], 1)
})

test('on a connection that is not ready, with no offline queue, the commands are rejected at once', async () => {
  const down = new Redis(server.url, { lazyConnect: true, enableOfflineQueue: false })
  const c = command(down, 'ping', [])
  sendTogether(down, [c])
  await assert.rejects(c.promise as Promise<unknown>, /enableOfflineQueue/)
  down.disconnect()
})
