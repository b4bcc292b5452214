// Server-side control of connections (docs/protocol.md §10, §9 Control): the bodies of the HTTP
// control routes, which are also the arguments of `app.ipc` and the publishers' control methods, and
// the commands every node reads on the control channel.
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { invalidParams } from './errors.js'
import { RoomName, validationErrors, type Validator } from './frames.js'

const Id = Type.String({ minLength: 1, maxLength: 256 })
const EpochMs = Type.Integer({ minimum: 0 })
/**
 * What a backend may close a socket with: 1000, 1008 (policy: the project's clients stop rather than
 * reconnect), or the codes kept for libraries and applications.
 */
export const DisconnectCode = Type.Union([Type.Literal(1000), Type.Literal(1008), Type.Integer({ minimum: 3000, maximum: 4999 })])

/** the connections a command acts on: every connection of a user, or one connection */
const Who = { userId: Type.Optional(Id), connectionId: Type.Optional(Id) }

export const SubscribeBody = Type.Object({ room: RoomName, ...Who }, { additionalProperties: false })
export type SubscribeBody = Static<typeof SubscribeBody>

export const DisconnectBody = Type.Object({
  ...Who,
  code: Type.Optional(DisconnectCode),
  reason: Type.Optional(Type.String({ maxLength: 123 }))
}, { additionalProperties: false })
export type DisconnectBody = Static<typeof DisconnectBody>

export const RevokeBody = Type.Object({
  userId: Type.Optional(Id),
  /** epoch ms: the user's tokens issued before it (by `iat`) are refused; now by default */
  before: Type.Optional(EpochMs),
  jti: Type.Optional(Id),
  /** epoch ms: when the revoked tokens expire anyway, so the revocation can be forgotten */
  expiresAt: Type.Optional(EpochMs)
}, { additionalProperties: false })
export type RevokeBody = Static<typeof RevokeBody>

/** How long a revocation is kept when its `expiresAt` is not given: the longest token lifetime assumed. */
export const REVOCATION_TTL_MS = 24 * 3600 * 1000
/** The close code of a disconnect that names none. */
export const DISCONNECT_CODE = 4000

/** A command on the control channel: what every node applies to its own connections. */
export type ControlCommand =
  | ({ op: 'subscribe' | 'unsubscribe' } & SubscribeBody)
  | ({ op: 'disconnect' } & DisconnectBody)
  | { op: 'revoke', userId?: string, before?: number, jti?: string, expiresAt: number }

const Command = Type.Union([
  Type.Object({ op: Type.Union([Type.Literal('subscribe'), Type.Literal('unsubscribe')]), room: RoomName, ...Who }),
  Type.Object({ op: Type.Literal('disconnect'), ...Who, code: Type.Optional(DisconnectCode), reason: Type.Optional(Type.String({ maxLength: 123 })) }),
  Type.Object({ op: Type.Literal('revoke'), userId: Type.Optional(Id), before: Type.Optional(EpochMs), jti: Type.Optional(Id), expiresAt: EpochMs })
])

export const controlValidators = {
  subscribe: Compile(SubscribeBody),
  disconnect: Compile(DisconnectBody),
  revoke: Compile(RevokeBody),
  command: Compile(Command)
}

/** What the schema cannot say about a body: exactly one target. null when the body is fine. */
export function targetProblem (body: { userId?: string, connectionId?: string }): string | null {
  if ((body.userId === undefined) === (body.connectionId === undefined)) return 'give exactly one of userId and connectionId'
  return null
}

export function revokeProblem (body: RevokeBody, now = Date.now()): string | null {
  if ((body.userId === undefined) === (body.jti === undefined)) return 'give exactly one of userId and jti'
  if (body.before !== undefined && body.userId === undefined) return 'before goes with userId'
  if (body.expiresAt !== undefined && body.expiresAt <= now) return 'expiresAt must be in the future'
  return null
}

/** A revocation with its defaults: `before` now for a user, kept until `expiresAt` (now + 24 h by default). */
export function revokeCommand (body: RevokeBody, now = Date.now()): Extract<ControlCommand, { op: 'revoke' }> {
  const expiresAt = body.expiresAt ?? now + REVOCATION_TTL_MS
  return body.userId !== undefined
    ? { op: 'revoke', userId: body.userId, before: body.before ?? now, expiresAt }
    : { op: 'revoke', jti: body.jti!, expiresAt }
}

/** A command read from the channel, or null when it is not one (written by something else). */
export function parseCommand (text: string): ControlCommand | null {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (!controlValidators.command.Check(value)) return null
  const cmd = value as ControlCommand
  if (cmd.op === 'revoke' ? (cmd.userId === undefined) === (cmd.jti === undefined) : targetProblem(cmd) !== null) return null
  return cmd
}

/** The claims revocation looks at. */
export interface TokenClaims { userId: string, iat?: unknown, jti?: unknown }

/**
 * Whether a revocation covers a token: the same `jti`, or a token of the user issued before
 * `before`. `iat` is in whole seconds, so a token issued in the second of `before` counts as
 * before; a token without `iat` cannot show it is newer, and is revoked too.
 */
export function covers (revocation: { userId?: string, before?: number, jti?: string }, token: TokenClaims): boolean {
  if (revocation.jti !== undefined) return token.jti === revocation.jti
  if (revocation.userId !== token.userId) return false
  return typeof token.iat !== 'number' || token.iat * 1000 < (revocation.before ?? Infinity)
}

type Bodies = { subscribe: SubscribeBody, unsubscribe: SubscribeBody, disconnect: DisconnectBody, revoke: RevokeBody }

/**
 * The command for a control call's body, checked: -32602 with the reason (`data.errors` for what the
 * schema says) for a bad one. A revocation gets its defaults here, where it is sent.
 */
export function controlCommand<Op extends keyof Bodies> (op: Op, body: Bodies[Op]): ControlCommand {
  const validator: Validator = op === 'revoke' ? controlValidators.revoke : op === 'disconnect' ? controlValidators.disconnect : controlValidators.subscribe
  if (!validator.Check(body)) throw invalidParams('Invalid params', { errors: validationErrors(validator, body) })
  const why = op === 'revoke' ? revokeProblem(body as RevokeBody) : targetProblem(body)
  if (why !== null) throw invalidParams(`Invalid params: ${why}`)
  return op === 'revoke' ? revokeCommand(body as RevokeBody) : { op, ...body } as ControlCommand
}
