// POST /api/publish: events from backends that do not speak Redis, authorized by an API key.
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ErrorCode, RpcError } from '../src/protocol/errors.js'
import { PublishBody } from '../src/protocol/frames.js'
import type { Authenticator } from '../src/gateway/auth.js'
import type { Gateway } from '../src/gateway/gateway.js'
import { requireApiKey } from './api-key.js'

// What the broker's errors mean over HTTP: Redis unreachable is the gateway's trouble of the moment
// (503, try again), never a 500.
const statusOf: Record<number, { status: number, error: string }> = {
  [ErrorCode.UNAVAILABLE]: { status: 503, error: 'Service Unavailable' },
  [ErrorCode.INVALID_PARAMS]: { status: 400, error: 'Bad Request' }
}

export default async function publishRoute (fastify: FastifyInstance, { gateway, auth }: { gateway: Gateway, auth: Authenticator }): Promise<void> {
  fastify.withTypeProvider<TypeBoxTypeProvider>().post('/api/publish', {
    schema: { body: PublishBody },
    preValidation: requireApiKey(auth)
  }, async (request, reply) => {
    try {
      return await gateway.publish(request.body)
    } catch (err) {
      return await replyError(reply, err)
    }
  })
}

/** An RpcError the routes know as an HTTP answer: 400 for bad params, 503 (Retry-After: 1) when Redis is unreachable. */
export async function replyError (reply: FastifyReply, err: unknown): Promise<FastifyReply> {
  if (!(err instanceof RpcError) || statusOf[err.code] === undefined) throw err
  const { status, error } = statusOf[err.code]
  if (status === 503) void reply.header('retry-after', '1')
  return await reply.code(status).send({ error, message: err.message, code: err.code })
}
