// The admin page (docs/protocol.md §10): static files from src/admin/ and the JSON endpoints it
// polls, each behind the admin key or a JWT with the admin role (401 otherwise, with nothing else
// said). Registered only when adminKey or adminRole is set.
import { readFileSync } from 'node:fs'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { ErrorCode, RpcError } from '../src/protocol/errors.js'
import type { Gateway } from '../src/gateway/gateway.js'

const STATIC = new URL('../src/admin/', import.meta.url)
const FILES: Record<string, string> = { 'index.html': 'text/html', 'admin.css': 'text/css', 'admin.js': 'text/javascript' }
// The page loads nothing from elsewhere, runs no inline script, and may not be framed.
const CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
const SERVICE = /^[^\s*:]{1,256}$/

interface Params { service: string, entryId: string, userId: string, connectionId: string }

export default async function adminRoute (fastify: FastifyInstance, { gateway }: { gateway: Gateway }): Promise<void> {
  const files = Object.entries(FILES).map(([name, type]) => ({ name, type, body: readFileSync(new URL(name, STATIC)) }))
  const serve = async (reply: FastifyReply, file: typeof files[number]): Promise<FastifyReply> =>
    await reply.type(file.type).header('cache-control', 'no-cache').header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').send(file.body)
  // relative links: the page works under any prefix a proxy puts before /admin/
  fastify.get('/admin', async (_request, reply) => await reply.redirect('admin/'))
  fastify.get('/admin/', async (_request, reply) => await serve(reply, files[0]))
  for (const file of files.slice(1)) fastify.get(`/admin/${file.name}`, async (_request, reply) => await serve(reply, file))

  await fastify.register(async function api (scope) {
    scope.addHook('onRequest', async (request, reply) => {
      void reply.header('cache-control', 'no-store')
      if (!await gateway.isAdmin(request.headers.authorization)) {
        await reply.code(401).send({ error: 'Unauthorized', message: 'the admin key, or a token with the admin role, is required (Authorization: Bearer <token>)' })
      }
    })
    scope.setErrorHandler(async (err, _request, reply) => {
      const rpc = RpcError.of(err)
      if (rpc?.code === ErrorCode.UNAVAILABLE) return await reply.code(503).header('retry-after', '1').send({ error: 'Service Unavailable', message: rpc.message })
      if (rpc?.code === ErrorCode.INVALID_PARAMS) return await reply.code(400).send({ error: 'Bad Request', message: rpc.message })
      // most likely Redis failing mid-request: the gateway's trouble of the moment
      scope.log.warn({ err }, 'admin request failed')
      return await reply.code(503).header('retry-after', '1').send({ error: 'Service Unavailable', message: `the admin data could not be read: ${(err as Error).message}` })
    })
    const service = (params: Params): string => {
      if (!SERVICE.test(params.service)) throw new RpcError(ErrorCode.INVALID_PARAMS, 'Invalid params: not a service name')
      return params.service
    }
    const missing = async (reply: FastifyReply): Promise<FastifyReply> => await reply.code(404).send({ error: 'Not Found', message: 'no such dead letter' })

    scope.get('/overview', async () => await gateway.admin.overview())
    scope.get<{ Params: Params }>('/users/:userId', async request => ({
      userId: request.params.userId,
      connections: await gateway.admin.connectionsOf(request.params.userId)
    }))
    scope.post<{ Params: Params }>('/connections/:connectionId/disconnect', async request => {
      await gateway.api.disconnect({ connectionId: request.params.connectionId, reason: 'disconnected by an administrator' })
      return { connectionId: request.params.connectionId }
    })
    scope.get<{ Params: Params }>('/dead/:service', async request => ({ service: request.params.service, ...await gateway.admin.deadLetters(service(request.params)) }))
    scope.post<{ Params: Params }>('/dead/:service/:entryId/requeue', async (request, reply) => {
      const added = await gateway.admin.requeue(service(request.params), request.params.entryId)
      return added === null ? await missing(reply) : { entryId: request.params.entryId, requeued: added }
    })
    scope.delete<{ Params: Params }>('/dead/:service/:entryId', async (request, reply) => {
      return await gateway.admin.drop(service(request.params), request.params.entryId) ? { entryId: request.params.entryId } : await missing(reply)
    })
  }, { prefix: '/admin/api' })
}
