// GET <path>: the WebSocket endpoint. Header auth refuses a bad token before the upgrade (401);
// otherwise the connection starts pending and has authTimeoutMs to call rpc.auth.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Identity } from '../src/config.js'
import type { Gateway } from '../src/gateway/gateway.js'
import { adopt, rememberResponse } from '../plugins/websocket.js'

const identities = new WeakMap<FastifyRequest, Identity>()

export default async function websocketRoute (fastify: FastifyInstance, { gateway }: { gateway: Gateway }): Promise<void> {
  async function authorize (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (gateway.draining) {
      await reply.code(503).send({ error: 'Service Unavailable', message: 'node shutting down' })
      return
    }
    const header = request.headers.authorization
    if (header === undefined) return
    try {
      identities.set(request, await gateway.authorize(header))
    } catch (err) {
      await reply.code(401).send({ error: 'Unauthorized', message: (err as Error).message })
    }
  }

  fastify.get(gateway.options.path, { websocket: true, onRequest: rememberResponse, preValidation: authorize }, (socket, request) => {
    adopt(fastify, socket, request)
    gateway.open(socket, { ip: request.ip, identity: identities.get(request) })
  })
}
