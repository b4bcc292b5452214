// Encoding of outbound JSON-RPC frames: built as strings so a result is stringified exactly once.
import type { DeliveredEvent } from '../broker/types.js'
import type { ErrorObject } from '../protocol/errors.js'
import type { RequestId } from '../protocol/frames.js'

export const resultFrame = (id: RequestId, result: unknown): string =>
  '{"jsonrpc":"2.0","id":' + JSON.stringify(id) + ',"result":' + (JSON.stringify(result) ?? 'null') + '}'

export const errorFrame = (id: RequestId | null, error: ErrorObject): string =>
  '{"jsonrpc":"2.0","id":' + JSON.stringify(id) + ',"error":' + JSON.stringify(error) + '}'

export const progressFrame = (id: RequestId, data: unknown): string =>
  '{"jsonrpc":"2.0","method":"rpc.progress","params":{"id":' + JSON.stringify(id) + ',"data":' + (JSON.stringify(data) ?? 'null') + '}}'

/** An `rpc.event` frame; `dataJson` is already JSON, so the data is serialized once for every node. */
export const eventFrame = (ev: DeliveredEvent): string =>
  '{"jsonrpc":"2.0","method":"rpc.event","params":{"event":' + JSON.stringify(ev.event) +
  ',"data":' + ev.dataJson + ',"target":' + JSON.stringify(ev.target) +
  (ev.offset === undefined ? '' : ',"offset":' + JSON.stringify(ev.offset) + ',"epoch":' + JSON.stringify(ev.epoch)) + '}}'

/** The id of something that failed validation, if it has a usable one. */
export function idOf (msg: unknown): RequestId | null {
  if (msg === null || typeof msg !== 'object') return null
  const id = (msg as { id?: unknown }).id
  return typeof id === 'string' || typeof id === 'number' ? id : null
}
