// GET <path>: the WebSocket endpoint. Header auth refuses a bad token before the upgrade (401);
// otherwise the connection starts pending and has authTimeoutMs to call rpc.auth.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Identity } from '../src/config.js'
import { Connection } from '../src/gateway/connection.js'
import { RpcError } from '../src/protocol/errors.js'

const identities = new WeakMap<FastifyRequest, Identity>()

export default async function websocketRoute (fastify: FastifyInstance): Promise<void> {
  const { ipcConfig: cfg, ipcAuth: auth, ipcHub: hub, ipcDispatcher: dispatcher, ipcMetrics: metrics } = fastify

  async function authorize (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (hub.draining) {
      await reply.code(503).send({ error: 'Service Unavailable', message: 'node shutting down' })
      return
    }
    const header = request.headers.authorization
    if (header === undefined) return
    const match = /^Bearer\s+(\S+)$/i.exec(header)
    try {
      if (match === null) throw new RpcError(-32001, 'Authorization header must be "Bearer <token>"')
      identities.set(request, auth.authenticate(match[1]))
    } catch (err) {
      metrics.rejected.inc({ reason: 'unauthenticated' })
      await reply.code(401).send({ error: 'Unauthorized', message: (err as Error).message })
    }
  }

  fastify.get(cfg.path, { websocket: true, preValidation: authorize }, (socket, request) => {
    const conn = new Connection(socket, request.ip, cfg, metrics, c => hub.remove(c))
    // The hub closes its sockets itself after draining (1001); a host's @fastify/websocket, registered
    // before us, would otherwise close them first in its own preClose, with no code and requests lost.
    fastify.websocketServer.clients.delete(socket)
    // Listen before anything awaits: frames that arrive meanwhile would be lost.
    socket.on('message', (data, isBinary) => dispatcher.message(conn, data, isBinary))
    if (!hub.add(conn)) return
    const identity = identities.get(request)
    if (identity === undefined) conn.awaitAuth()
    else hub.authenticate(conn, identity)
  })
}
