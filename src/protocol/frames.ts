// JSON-RPC frames, built-in method params and the Redis wire records (docs/protocol.md), as TypeBox schemas.
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'

export const RequestId = Type.Union([Type.String({ maxLength: 256 }), Type.Number()])
export type RequestId = Static<typeof RequestId>

export const Params = Type.Record(Type.String(), Type.Unknown())

export const Request = Type.Object({
  jsonrpc: Type.Literal('2.0'),
  id: Type.Optional(RequestId),
  method: Type.String({ minLength: 1, maxLength: 256 }),
  // by name or by position (docs/protocol.md §3)
  params: Type.Optional(Type.Union([Params, Type.Array(Type.Unknown())])),
  // a member of ours beside params: the call's answer is kept and given to a re-send (docs/protocol.md §3)
  idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  // W3C trace context of the caller (docs/protocol.md §3); a string that does not parse is ignored
  traceparent: Type.Optional(Type.String({ maxLength: 256 }))
})
export type Request = Static<typeof Request>

export const ErrorObjectSchema = Type.Object({
  code: Type.Integer(),
  message: Type.String(),
  data: Type.Optional(Type.Unknown())
})

/** `user:<id>`, `room:<name>`, `conn:<connectionId>` or `all`. */
export const Target = Type.String({ pattern: '^(all|(user|room|conn):.+)$', maxLength: 512 })

export const EventName = Type.String({ minLength: 1, maxLength: 256 })

export const PublishBody = Type.Object({
  target: Target,
  event: EventName,
  data: Type.Optional(Type.Unknown()),
  exclude: Type.Optional(Type.String())
}, { additionalProperties: false })
export type PublishBody = Static<typeof PublishBody>

export const RoomName = Type.String({ minLength: 1, maxLength: 256, pattern: '^[^*|\\s]+$' })

/** A position in a target's history to recover from (docs/protocol.md §5): what the last event carried. */
export const RecoverFrom = Type.Object({
  offset: Type.String({ pattern: '^\\d{1,20}-\\d{1,20}$' }),
  epoch: Type.String({ minLength: 1, maxLength: 64 })
})
export const AuthParams = Type.Object({ token: Type.String({ minLength: 1, maxLength: 16384 }), recover: Type.Optional(RecoverFrom) })
export const RoomParams = Type.Object({ room: RoomName })
export const JoinParams = Type.Object({ room: RoomName, recover: Type.Optional(RecoverFrom) })
export const PresenceParams = Type.Union([
  Type.Object({ room: RoomName }),
  Type.Object({ users: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 1000 }) })
])

export const Access = Type.Union([Type.Literal('public'), Type.Literal('user'), Type.Literal('service')])
export type Access = Static<typeof Access>

/** A method as workers publish it in `ipc:methods:<service>` (docs/protocol.md §9). */
export const MethodSpec = Type.Object({
  params: Type.Optional(Type.Unknown()),
  result: Type.Optional(Type.Unknown()),
  description: Type.Optional(Type.String()),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
  access: Type.Optional(Access),
  roles: Type.Optional(Type.Array(Type.String()))
})
export type MethodSpec = Static<typeof MethodSpec>

/** What a worker pushes on `ipc:reply:<node>`. */
export const Reply = Type.Object({
  id: Type.String(),
  result: Type.Optional(Type.Unknown()),
  error: Type.Optional(ErrorObjectSchema),
  progress: Type.Optional(Type.Unknown())
})
export type Reply = Static<typeof Reply>

/** Who is calling, as sent to workers with every request. */
export interface Caller {
  userId: string
  connectionId: string
  node: string
  roles: string[]
  claims: Record<string, unknown>
}

export const validators = {
  request: Compile(Request),
  publish: Compile(PublishBody),
  auth: Compile(AuthParams),
  room: Compile(RoomParams),
  join: Compile(JoinParams),
  presence: Compile(PresenceParams),
  methodSpec: Compile(MethodSpec),
  reply: Compile(Reply)
}

/** A compiled TypeBox validator, as far as this project uses one. */
export interface Validator { Check (value: unknown): boolean, Errors (value: unknown): Iterable<{ instancePath: string, message: string }> }

/** The validation errors of a compiled validator, in a form fit for `error.data`. */
export function validationErrors (validator: Pick<Validator, 'Errors'>, value: unknown): Array<{ path: string, message: string }> {
  const out: Array<{ path: string, message: string }> = []
  for (const e of validator.Errors(value)) {
    out.push({ path: e.instancePath || '/', message: e.message })
    if (out.length >= 20) break
  }
  return out
}

/** The service of a method: the part before its first dot, or `default`. */
export function serviceOf (method: string): string {
  const dot = method.indexOf('.')
  return dot > 0 ? method.slice(0, dot) : 'default'
}
