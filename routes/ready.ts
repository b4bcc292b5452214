import type { FastifyInstance } from 'fastify'

// Readiness: 503 while the broker is unreachable or the node drains, with each check in the body.
export default async function readyRoute (fastify: FastifyInstance): Promise<void> {
  const { ipcBroker: broker, ipcHub: hub } = fastify
  fastify.get('/ready', async (_request, reply) => {
    const checks = { broker: broker.isUp() ? 'up' : 'down', draining: hub.draining }
    const ok = checks.broker === 'up' && !checks.draining
    return await reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks })
  })
}
