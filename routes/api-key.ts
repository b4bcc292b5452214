// The API key the /api/* routes require: `Authorization: Bearer <key>`, checked before the body is.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Authenticator } from '../src/gateway/auth.js'

/** A preValidation hook answering 401 unless the request carries one of the configured API keys. */
export function requireApiKey (auth: Authenticator) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization
    let service = false
    try {
      service = header !== undefined && (await auth.authenticateHeader(header)).kind === 'service'
    } catch {}
    if (!service) await reply.code(401).send({ error: 'Unauthorized', message: 'an API key is required (Authorization: Bearer <key>)' })
  }
}
