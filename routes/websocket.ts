// GET <path>: the WebSocket endpoint. Header auth refuses a bad token before the upgrade (401);
// otherwise the connection starts pending and has authTimeoutMs to call rpc.auth.
import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type { Identity } from '../src/config.js'
import { Connection } from '../src/gateway/connection.js'
import { RpcError } from '../src/protocol/errors.js'

const identities = new WeakMap<FastifyRequest, Identity>()
const responses = new WeakMap<FastifyRequest, ServerResponse>()

export default async function websocketRoute (fastify: FastifyInstance): Promise<void> {
  const { ipcConfig: cfg, ipcAuth: auth, ipcHub: hub, ipcDispatcher: dispatcher, ipcMetrics: metrics } = fastify

  // @fastify/websocket keeps the upgrade's request and reply as long as the socket lives: its 'error'
  // listener closes over them, and the HTTP response stays assigned to the TCP socket (holding the
  // request, its headers and a logger). About 3 KB per connection (heap snapshots, bench/README.md
  // item 21) that a connection never uses: both are let go once the socket is upgraded.
  function remember (request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    responses.set(request, reply.raw)
    done()
  }

  function release (socket: WebSocket, request: FastifyRequest): void {
    socket.removeAllListeners('error')
    // ws closes the socket itself on a protocol error and then emits it: as @fastify/websocket did.
    socket.on('error', err => {
      fastify.log.debug({ err }, 'websocket error')
      socket.terminate()
    })
    responses.get(request)?.detachSocket(request.raw.socket)
  }

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

  fastify.get(cfg.path, { websocket: true, onRequest: remember, preValidation: authorize }, (socket, request) => {
    release(socket, request)
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
