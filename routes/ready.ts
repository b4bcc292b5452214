import type { FastifyInstance } from 'fastify'
import type { Gateway } from '../src/gateway/gateway.js'

// Readiness: 503 while the broker is unreachable or the node drains, with each check in the body.
export default async function readyRoute (fastify: FastifyInstance, { gateway }: { gateway: Gateway }): Promise<void> {
  fastify.get('/ready', async (_request, reply) => {
    const checks = gateway.ready()
    const ok = checks.broker === 'up' && !checks.draining
    return await reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks })
  })
}
