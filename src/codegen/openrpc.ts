// Loads an OpenRPC document (ours or any OpenRPC 1.x with by-name params) from a URL or a file, checks the
// parts code generation relies on, and reduces it to the few facts the generators need.
import { readFile } from 'node:fs/promises'
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { validationErrors } from '../protocol/frames.js'

export type JsonSchema = Record<string, unknown>

/** A problem with the input or the options, reported without a stack trace. */
export class CodegenError extends Error {}

const Schema = Type.Record(Type.String(), Type.Unknown())

const Document = Type.Object({
  openrpc: Type.String({ pattern: '^1\\.' }),
  info: Type.Object({ title: Type.String(), version: Type.String() }),
  methods: Type.Array(Type.Object({
    name: Type.String({ minLength: 1 }),
    description: Type.Optional(Type.String()),
    params: Type.Array(Type.Object({ name: Type.String(), required: Type.Optional(Type.Boolean()), schema: Schema })),
    result: Type.Optional(Type.Object({ schema: Schema })),
    'x-params-schema': Type.Optional(Schema),
    'x-timeout-ms': Type.Optional(Type.Number())
  })),
  'x-events': Type.Optional(Type.Array(Type.Object({
    name: Type.String({ minLength: 1 }),
    description: Type.Optional(Type.String()),
    schema: Type.Optional(Schema)
  })))
})
type Document = Static<typeof Document>
const checkDocument = Compile(Document)

export interface ApiMethod {
  /** wire name, e.g. `orders.getStatus` */
  name: string
  description?: string
  /** JSON Schema of the whole params object */
  params: JsonSchema
  result: JsonSchema
  timeoutMs?: number
}

export interface ApiEvent { name: string, description?: string, data: JsonSchema }

export interface Api { title: string, version: string, methods: ApiMethod[], events: ApiEvent[] }

/** Reads `from` (an http(s) URL of `/openrpc.json` or a file path) and returns the API it describes. */
export async function loadApi (from: string): Promise<Api> {
  let text: string
  try {
    if (/^https?:\/\//.test(from)) {
      const res = await fetch(from)
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      text = await res.text()
    } else {
      text = await readFile(from, 'utf8')
    }
  } catch (err) {
    // fetch says only "fetch failed"; the reason is in its cause.
    const e = err as Error & { cause?: Error }
    throw new CodegenError(`${from}: ${e.cause?.message ?? e.message}`)
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    throw new CodegenError(`${from}: not JSON`)
  }
  return toApi(doc, from)
}

export function toApi (doc: unknown, source = 'document'): Api {
  if (!checkDocument.Check(doc)) {
    const errors = validationErrors(checkDocument, doc).map(e => `${e.path}: ${e.message}`).join('; ')
    throw new CodegenError(`${source}: not an OpenRPC 1.x document (${errors})`)
  }
  const d = doc as Document
  return {
    title: d.info.title,
    version: d.info.version,
    // rpc.* are the protocol's built-ins: the runtimes expose them directly.
    methods: d.methods.filter(m => !m.name.startsWith('rpc.')).map(m => ({
      name: m.name,
      description: m.description,
      params: m['x-params-schema'] ?? paramsSchema(m.params),
      result: m.result?.schema ?? {},
      timeoutMs: m['x-timeout-ms']
    })),
    events: (d['x-events'] ?? []).map(e => ({ name: e.name, description: e.description, data: e.schema ?? {} }))
  }
}

// A plain OpenRPC document has no x-params-schema: rebuild the params object from its content descriptors.
function paramsSchema (params: Document['methods'][number]['params']): JsonSchema {
  return {
    type: 'object',
    properties: Object.fromEntries(params.map(p => [p.name, p.schema])),
    required: params.filter(p => p.required === true).map(p => p.name)
  }
}

/** Whether a call may omit params: no properties are required. */
export function paramsOptional (schema: JsonSchema): boolean {
  const required = schema.required
  return !Array.isArray(required) || required.length === 0
}
