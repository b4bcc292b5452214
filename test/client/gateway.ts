// A gateway with the methods the client tests call, startable again on the same port (a "restart").
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import Type from 'typebox'
import fastifyIpc, { type FastifyIpcOptions } from '../../src/index.js'
import { RpcError } from '../../src/protocol/errors.js'
import { API_KEY, SECRET, type TestGateway } from '../helper.js'
import type { ClientState, IpcClient } from '../../src/client/index.js'

export function methods (app: FastifyInstance): void {
  app.ipc.method('math.add', { params: Type.Object({ a: Type.Number(), b: Type.Number() }) }, ({ a, b }) => ({ sum: a + b }))
  app.ipc.method('orders.fail', {}, () => { throw new RpcError(4040, 'No such order', { orderId: 7 }) })
  app.ipc.method('slow.wait', { params: Type.Object({ ms: Type.Integer() }) }, async ({ ms }) => {
    await sleep(ms)
    return { waited: ms }
  })
  app.ipc.method('slow.deadline', { timeoutMs: 50 }, async () => await sleep(300))
  app.ipc.method('job.run', {}, async (_params, ctx) => {
    ctx.progress({ pct: 50 })
    ctx.progress({ pct: 100 })
    return { done: true }
  })
  app.ipc.method('whoami', {}, (_params, ctx) => ({ userId: ctx.caller.userId, connectionId: ctx.caller.connectionId }))
}

/** Starts the gateway with `methods` on `port` (0 = a free one); `setup` may add routes. */
export async function startOn (port: number, options: FastifyIpcOptions = {}, setup?: (app: FastifyInstance) => void): Promise<TestGateway> {
  const app = Fastify({ logger: false })
  await app.register(fastifyIpc, { jwt: { secret: SECRET }, apiKeys: { backend: API_KEY }, ...options })
  methods(app)
  setup?.(app)
  await app.listen({ port, host: '127.0.0.1' })
  const { port: bound } = app.server.address() as { port: number }
  return { app, url: `ws://127.0.0.1:${bound}/ws`, http: `http://127.0.0.1:${bound}`, close: async () => await app.close() }
}

export const portOf = (gw: TestGateway): number => Number(new URL(gw.url).port)

/** Resolves when the client reaches `state` (at once if it is there). */
export async function reach (client: IpcClient, state: ClientState, timeoutMs = 5000): Promise<void> {
  if (client.state === state) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new Error(`client did not reach "${state}" within ${timeoutMs} ms (it is "${client.state}")`))
    }, timeoutMs)
    const off = client.onStateChange(s => {
      if (s !== state) return
      clearTimeout(timer)
      off()
      resolve()
    })
  })
}

/** The next payload of `event`. */
export async function nextEvent (client: IpcClient, event: string, timeoutMs = 5000): Promise<{ data: unknown, meta: unknown }> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new Error(`no "${event}" event within ${timeoutMs} ms`))
    }, timeoutMs)
    const off = client.on(event, (data, meta) => {
      clearTimeout(timer)
      off()
      resolve({ data, meta })
    })
  })
}
