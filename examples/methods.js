// Example methods for the standalone server:
//   IPC_METHODS=./examples/methods.js npm start
// The default export receives `app.ipc` (and the Fastify app) and registers methods and events.
import Type from 'typebox'
import { notFound } from 'fastify-ipc'

const orders = new Map([[42, { orderId: 42, status: 'shipped', items: 3 }]])

/** @param {import('fastify-ipc').IpcApi} ipc */
export default function methods (ipc) {
  ipc.method('orders.get', {
    description: 'One order by id',
    params: Type.Object({ orderId: Type.Integer({ minimum: 1 }) }),
    result: Type.Object({ orderId: Type.Integer(), status: Type.String(), items: Type.Integer() })
  }, async ({ orderId }) => {
    const order = orders.get(orderId)
    if (order === undefined) throw notFound(`Order ${orderId} does not exist`)
    return order
  })

  ipc.method('math.add', {
    description: 'Adds two numbers',
    params: Type.Object({ a: Type.Number(), b: Type.Number() }),
    result: Type.Object({ sum: Type.Number() })
  }, ({ a, b }) => ({ sum: a + b }))

  ipc.method('demo.countdown', {
    description: 'Counts down, streaming each step as rpc.progress',
    params: Type.Object({ from: Type.Integer({ minimum: 0, maximum: 10 }) }),
    result: Type.Object({ done: Type.Boolean() })
  }, async ({ from }, ctx) => {
    for (let i = from; i > 0; i--) {
      ctx.progress({ remaining: i })
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    return { done: true }
  })

  ipc.event('chat.message', {
    description: 'A message said in a room',
    data: Type.Object({ from: Type.String(), text: Type.String() })
  })
  ipc.method('chat.say', {
    description: 'Says something to a room you are in',
    params: Type.Object({ room: Type.String(), text: Type.String({ maxLength: 2000 }) }),
    result: Type.Object({ offset: Type.Optional(Type.String()) })
  }, async ({ room, text }, ctx) => {
    return await ctx.publish({ target: `room:${room}`, event: 'chat.message', data: { from: ctx.caller.userId, text } })
  })
}
