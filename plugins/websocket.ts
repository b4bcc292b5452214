// @fastify/websocket, and the internals of it the gateway has to undo, fenced in this one module.
// Tests fail if its behaviour changes: test/routes/websocket-memory.test.ts (what a connection keeps)
// and test/plugin-mode.test.ts (a host's @fastify/websocket must not close our sockets first).
import type { ServerResponse } from 'node:http'
import fastifyWebsocket from '@fastify/websocket'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'

/** Registers @fastify/websocket unless the host app did (the gateway checks maxPayload itself too). */
export async function websocketServer (fastify: FastifyInstance, maxPayload: number): Promise<void> {
  if (fastify.hasDecorator('websocketServer')) return
  await fastify.register(fastifyWebsocket, { options: { maxPayload } })
}

const responses = new WeakMap<FastifyRequest, ServerResponse>()

/** The websocket route's onRequest hook: keeps the upgrade's response for adopt() to let go of. */
export function rememberResponse (request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  responses.set(request, reply.raw)
  done()
}

/**
 * Takes an upgraded socket from @fastify/websocket for the gateway to own:
 * - @fastify/websocket keeps the upgrade's request and reply as long as the socket lives (its 'error'
 *   listener closes over them, and the HTTP response stays assigned to the TCP socket, holding the
 *   request, its headers and a logger), which a connection never uses: both are let go;
 * - a host's @fastify/websocket, registered before us, closes the sockets of its server in its own
 *   preClose, with no code and in-flight requests lost, before the gateway drains: ours leave its list.
 */
export function adopt (fastify: FastifyInstance, socket: WebSocket, request: FastifyRequest): void {
  socket.removeAllListeners('error')
  // ws closes the socket itself on a protocol error and then emits it: as @fastify/websocket did.
  socket.on('error', err => {
    fastify.log.debug({ err }, 'websocket error')
    socket.terminate()
  })
  responses.get(request)?.detachSocket(request.raw.socket)
  fastify.websocketServer.clients.delete(socket)
}
