// An example backend worker for the service "inventory", answering through Redis:
//   REDIS_URL=redis://127.0.0.1:6379 IPC_WORKER_SERVICE=inventory npx fastify-ipc worker examples/worker.js
// Run a gateway with the same REDIS_URL; clients then call inventory.* like any other method.
// The default export receives the Worker and declares methods; the CLI starts and stops it.
import Type from 'typebox'
import { notFound, RpcError } from 'fastify-ipc/worker'

const stock = new Map([['apple', 10], ['pear', 4]])
// Delivery is at-least-once: a reservation seen before is answered again, not applied twice.
const reservations = new Map()

/** @param {import('fastify-ipc/worker').Worker} worker */
export default function setup (worker) {
  worker.method('inventory.reserve', {
    description: 'Reserves items and tells everyone in the item\'s room',
    params: Type.Object({ reservationId: Type.String({ minLength: 1 }), item: Type.String(), count: Type.Integer({ minimum: 1 }) }),
    result: Type.Object({ item: Type.String(), left: Type.Integer() })
  }, async ({ reservationId, item, count }, ctx) => {
    const done = reservations.get(reservationId)
    if (done !== undefined) return done
    const left = stock.get(item)
    if (left === undefined) throw notFound(`No item ${item}`)
    if (left < count) throw new RpcError(409, 'Not enough stock', { left })
    stock.set(item, left - count)
    const result = { item, left: left - count }
    reservations.set(reservationId, result)
    await ctx.publish.toRoom(`inventory:${item}`, 'inventory.changed', result, { exclude: ctx.caller.connectionId })
    return result
  })

  worker.method('inventory.recount', {
    description: 'Recounts every item, streaming each one as rpc.progress',
    params: Type.Object({}),
    result: Type.Object({ items: Type.Integer() }),
    timeoutMs: 30000
  }, async (_params, ctx) => {
    for (const [item, count] of stock) {
      if (ctx.signal.aborted) break
      ctx.progress({ item, count })
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    return { items: stock.size }
  })
}
