import type { FastifyInstance } from 'fastify'

// Liveness: 200 while the process runs.
export default async function healthRoute (fastify: FastifyInstance): Promise<void> {
  fastify.get('/health', async () => ({ status: 'ok' }))
}
