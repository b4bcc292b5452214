// A gateway with methods and events of every shape the generators handle, restartable on the same port.
import Fastify, { type FastifyInstance } from 'fastify'
import Type from 'typebox'
import fastifyIpc, { type FastifyIpcOptions, notFound } from '../../src/index.js'
import { API_KEY, SECRET } from '../helper.js'

export interface Gateway { app: FastifyInstance, port: number, url: string, http: string, close (): Promise<void> }

const Status = Type.Union([Type.Literal('pending'), Type.Literal('shipped'), Type.Literal('delivered')])
const Item = Type.Object({ sku: Type.String(), qty: Type.Integer({ minimum: 1 }) })

function setup (app: FastifyInstance): void {
  const ipc = app.ipc
  ipc.method('orders.get', {
    description: 'One order by id',
    params: Type.Object({ orderId: Type.Integer({ minimum: 1 }) }),
    result: Type.Object({
      orderId: Type.Integer(),
      status: Status,
      items: Type.Array(Item),
      note: Type.Optional(Type.String()),
      customer: Type.Object({ id: Type.String(), name: Type.String(), email: Type.Optional(Type.String()) })
    })
  }, ({ orderId }) => {
    if (orderId !== 42) throw notFound(`Order ${orderId} does not exist`, { orderId })
    return { orderId, status: 'shipped', items: [{ sku: 'A-1', qty: 2 }], customer: { id: 'c7', name: 'Ada' } }
  })
  ipc.method('orders.getStatus', {
    params: Type.Object({ orderId: Type.Integer() }),
    result: Type.Object({ status: Status })
  }, () => ({ status: 'pending' }))
  ipc.method('orders.list', {
    description: 'Orders, filtered',
    params: Type.Object({ status: Type.Optional(Status), limit: Type.Optional(Type.Integer()), tags: Type.Optional(Type.Array(Type.String())) }),
    result: Type.Array(Type.Object({ orderId: Type.Integer(), status: Status }))
  }, ({ status, limit }) => [{ orderId: 42, status: status ?? 'shipped' }].slice(0, limit ?? 10))
  ipc.method('math.add', {
    params: Type.Object({ a: Type.Number(), b: Type.Number() }),
    result: Type.Object({ sum: Type.Number() })
  }, ({ a, b }) => ({ sum: a + b }))
  // No dot: a top-level method. `from` is a Python keyword.
  ipc.method('echo', {
    params: Type.Object({ text: Type.String(), from: Type.Optional(Type.String()) }),
    result: Type.String()
  }, ({ text, from }) => from === undefined ? text : `${from}: ${text}`)
  ipc.method('slow.wait', {
    params: Type.Object({ ms: Type.Integer() }),
    result: Type.Object({ waited: Type.Integer() })
  }, async ({ ms }) => await new Promise(resolve => setTimeout(() => resolve({ waited: ms }), ms)))
  ipc.method('chat.say', {
    description: 'Says something to a room you are in',
    params: Type.Object({ room: Type.String(), text: Type.String() }),
    result: Type.Object({ offset: Type.Optional(Type.String()) })
  }, async ({ room, text }, ctx) => await ctx.publish({ target: `room:${room}`, event: 'chat.message', data: { from: ctx.caller.userId, text } }))
  ipc.event('order.updated', {
    description: 'An order changed',
    data: Type.Object({ orderId: Type.Integer(), status: Status, items: Type.Optional(Type.Array(Item)) })
  })
  ipc.event('chat.message', { data: Type.Object({ from: Type.String(), text: Type.String() }) })
}

/** Starts the fixture gateway on `port` (0: a free one); `options` override the plugin's. */
export async function startFixture (port = 0, options: FastifyIpcOptions = {}): Promise<Gateway> {
  const app = Fastify({ logger: false })
  // A short drain, so a restart cuts off the calls still in flight (as a crash would).
  await app.register(fastifyIpc, { jwt: { secret: SECRET }, apiKeys: { backend: API_KEY }, shutdownTimeoutMs: 200, ...options })
  setup(app)
  await app.listen({ port, host: '127.0.0.1' })
  const actual = (app.server.address() as { port: number }).port
  return { app, port: actual, url: `ws://127.0.0.1:${actual}/ws`, http: `http://127.0.0.1:${actual}`, close: async () => await app.close() }
}
