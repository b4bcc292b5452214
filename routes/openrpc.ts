import type { FastifyInstance } from 'fastify'
import type { Gateway } from '../src/gateway/gateway.js'

// The OpenRPC document of every method, local and remote, with events under x-events.
export default async function openrpcRoute (fastify: FastifyInstance, { gateway }: { gateway: Gateway }): Promise<void> {
  fastify.get('/openrpc.json', async () => gateway.openrpc())
}
