import type { FastifyInstance } from 'fastify'

// Prometheus text of this app's own registry.
export default async function metricsRoute (fastify: FastifyInstance): Promise<void> {
  const { registry } = fastify.ipcMetrics
  fastify.get('/metrics', async (_request, reply) => {
    return await reply.type(registry.contentType).send(await registry.metrics())
  })
}
