// A request as the gateway writes it on `ipc:rpc:<service>` (PROTOCOL.md section 9), read back.
import Type from 'typebox'
import { Compile } from 'typebox/compile'
import type { Caller } from '../protocol/frames.js'
import { record } from './redis.js'

const Fields = Compile(Type.Object({
  v: Type.Literal('1'),
  id: Type.String({ minLength: 1 }),
  method: Type.String({ minLength: 1 }),
  params: Type.Optional(Type.String()),
  caller: Type.String(),
  reply: Type.String({ minLength: 1 }),
  deadline: Type.String({ pattern: '^[0-9]+$' })
}))

export interface WorkerRequest {
  id: string
  method: string
  /** JSON text; parsed (and validated) only when the method is known */
  params: string
  caller: Caller
  reply: string
  deadline: number
}

/** Who to answer, when the entry says it: enough to send an error for a request we cannot run. */
export interface Answerable { id: string, reply: string }

export type Parsed =
  | { ok: true, request: WorkerRequest }
  | { ok: false, reason: string, answer?: Answerable }

export function parseRequest (fields: string[]): Parsed {
  const f = record(fields)
  if (!Fields.Check(f)) return { ok: false, reason: f.v !== undefined && f.v !== '1' ? `unsupported request version ${f.v}` : 'malformed request', answer: answerable(f) }
  let caller: Caller
  try {
    caller = JSON.parse(f.caller) as Caller
  } catch {
    return { ok: false, reason: 'caller is not JSON', answer: answerable(f) }
  }
  return { ok: true, request: { id: f.id, method: f.method, params: f.params ?? '{}', caller, reply: f.reply, deadline: Number(f.deadline) } }
}

const answerable = (f: Record<string, string>): Answerable | undefined =>
  typeof f.id === 'string' && typeof f.reply === 'string' && f.reply !== '' ? { id: f.id, reply: f.reply } : undefined
