import type { FastifyInstance } from 'fastify'
import type { Gateway } from '../src/gateway/gateway.js'

// Prometheus text of this app's own registry.
export default async function metricsRoute (fastify: FastifyInstance, { gateway }: { gateway: Gateway }): Promise<void> {
  const { registry } = gateway.metrics
  fastify.get('/metrics', async (_request, reply) => {
    return await reply.type(registry.contentType).send(await registry.metrics())
  })
}
