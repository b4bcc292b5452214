import type { FastifyInstance } from 'fastify'
import { version } from '../src/version.js'

// The OpenRPC document of every method, local and remote, with events under x-events.
export default async function openrpcRoute (fastify: FastifyInstance): Promise<void> {
  fastify.get('/openrpc.json', async () => fastify.ipc.registry.openrpc(version))
}
