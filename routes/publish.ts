// POST /api/publish: events from backends that do not speak Redis, authorized by an API key.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { PublishBody } from '../src/protocol/frames.js'

export default async function publishRoute (fastify: FastifyInstance): Promise<void> {
  const { ipcAuth: auth, ipc } = fastify
  fastify.withTypeProvider<TypeBoxTypeProvider>().post('/api/publish', {
    schema: { body: PublishBody },
    preValidation: async (request, reply) => {
      const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')
      let service = false
      try {
        service = match !== null && auth.authenticate(match[1]).kind === 'service'
      } catch {}
      if (!service) await reply.code(401).send({ error: 'Unauthorized', message: 'an API key is required (Authorization: Bearer <key>)' })
    }
  }, async (request) => await ipc.publish(request.body))
}
