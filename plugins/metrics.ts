// Prometheus metrics with a Registry per app instance.
import fp from 'fastify-plugin'
import { Metrics } from '../src/gateway/metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    ipcMetrics: Metrics
  }
}

export default fp(async function metrics (fastify) {
  fastify.decorate('ipcMetrics', new Metrics())
}, { name: 'ipc-metrics' })
