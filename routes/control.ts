// POST /api/subscribe, /api/unsubscribe, /api/disconnect, /api/revoke (docs/protocol.md §10):
// server-side control for backends that do not speak Redis, authorized by an API key.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import type { Static, TSchema } from 'typebox'
import { DisconnectBody, RevokeBody, SubscribeBody } from '../src/protocol/control.js'
import type { Authenticator } from '../src/gateway/auth.js'
import type { IpcApi } from '../src/gateway/api.js'
import { requireApiKey } from './api-key.js'
import { replyError } from './publish.js'

export default async function controlRoutes (fastify: FastifyInstance, { api, auth }: { api: IpcApi, auth: Authenticator }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const preValidation = requireApiKey(auth)
  // Each answers 200 {} once every node was told; a body the schema takes but that does not make
  // sense (both userId and connectionId, say) is 400 with the reason, as a malformed one is.
  const route = <S extends TSchema>(path: string, body: S, run: (body: Static<S>) => Promise<void>): void => {
    app.post(path, { schema: { body }, preValidation }, async (request, reply) => {
      try {
        await run(request.body as Static<S>)
        return {}
      } catch (err) {
        return await replyError(reply, err)
      }
    })
  }
  route('/api/subscribe', SubscribeBody, async body => await api.subscribe(body))
  route('/api/unsubscribe', SubscribeBody, async body => await api.unsubscribe(body))
  route('/api/disconnect', DisconnectBody, async body => await api.disconnect(body))
  route('/api/revoke', RevokeBody, async body => await api.revoke(body))
}
