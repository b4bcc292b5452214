// JSON-RPC 2.0 params by position (docs/protocol.md §3): every method is called by name inside the
// gateway, so an array is mapped onto the names its params schema declares, in their order.
import { invalidParams } from './errors.js'

export type NamedParams = Record<string, unknown>

/** The by-position order of a params schema: its properties in the order they are declared. */
export function paramNames (schema: unknown): readonly string[] {
  const properties = (schema as { properties?: unknown } | undefined)?.properties
  return properties !== null && typeof properties === 'object' ? Object.keys(properties) : []
}

/**
 * Params by name: an object as it is, absent or `[]` as `{}`, a non-empty array item by item onto
 * `names` (`undefined`: an unknown method, which then fails as not found).
 */
export function namedParams (method: string, params: NamedParams | unknown[] | undefined, names: readonly string[] | undefined): NamedParams {
  if (params === undefined) return {}
  if (!Array.isArray(params)) return params
  if (params.length === 0 || names === undefined) return {}
  if (params.length > names.length) {
    const expected = names.length === 0 ? 'takes no params' : `takes at most ${names.length} (${names.join(', ')})`
    throw invalidParams(`Invalid params: ${method} ${expected}, got ${params.length} by position`)
  }
  const out: NamedParams = {}
  for (let i = 0; i < params.length; i++) out[names[i]] = params[i]
  return out
}
