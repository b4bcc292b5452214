// OpenRPC → a Python package: pydantic models (1.10 and 2.x) from the JSON Schemas, an `Api` class with one
// typed async method per RPC method grouped by the dots of its name, and the asyncio runtime, copied as is.
import { readFileSync } from 'node:fs'
import { version } from '../version.js'
import { type Api, type ApiMethod, type JsonSchema } from './openrpc.js'
import { NameAllocator, namespaceTree, type NamespaceNode, pascal, pyIdent, snake } from './names.js'

/** Copied as they are into every package: the asyncio client and the pydantic 1/2 shim (src/codegen/python/, copied to dist by the build). */
const RUNTIME = ['_runtime.py', '_pydantic.py']
/** Members of the generated `Api` class; methods and namespaces with these names get a trailing `_`. */
const RESERVED = ['client', 'connect', 'close', 'on']
/** BaseModel attributes (pydantic 1 and 2) a field must not shadow. */
const MODEL_ATTRS = ['dict', 'json', 'copy', 'parse_obj', 'parse_raw', 'parse_file', 'from_orm', 'schema', 'schema_json', 'construct', 'validate', 'update_forward_refs', 'fields', 'model_config', 'model_fields', 'model_dump', 'model_dump_json', 'model_validate', 'model_validate_json', 'model_construct', 'model_copy', 'model_extra', 'model_fields_set', 'model_json_schema', 'model_post_init', 'model_rebuild', 'model_computed_fields']
/** Keyword arguments every generated method takes besides the params. */
const CALL_KWARGS = ['self', 'timeout', 'on_progress']

interface Field { name: string, wire: string, type: string, required: boolean }

/** Turns JSON Schemas into type expressions, writing a model class for each object with properties. */
class Models {
  readonly classes: string[] = []
  readonly classNames: string[] = []
  readonly fields = new Map<string, Field[]>()
  // client.py imports every model by name next to these.
  private readonly names = new NameAllocator(['Model', 'Field', 'Any', 'Callable', 'Dict', 'List', 'Literal', 'Optional', 'Type', 'Union', 'Api', 'Backoff', 'EVENTS', 'IpcClient', 'IpcError', 'EventMeta', 'ProgressHandler'], 'type')

  /** The Python type of `schema`; `hint` names the model class when one is needed. */
  type (schema: JsonSchema, hint: string, root: JsonSchema = schema, depth = 0): string {
    const sub = (s: unknown, h: string): string => this.type(isSchema(s) ? s : {}, h, root, depth + 1)
    if (depth > 32) return 'Any'
    if (typeof schema.$ref === 'string') {
      const target = resolve(root, schema.$ref)
      return target === undefined ? 'Any' : sub(target, schema.$ref.split('/').pop() ?? hint)
    }
    if ('const' in schema) return literal([schema.const])
    if (Array.isArray(schema.enum)) return literal(schema.enum)
    const variants = schema.anyOf ?? schema.oneOf
    if (Array.isArray(variants)) return union(variants.map((v, i) => sub(v, `${hint}${i + 1}`)))
    if (Array.isArray(schema.allOf) && schema.allOf.length === 1) return sub(schema.allOf[0], hint)
    if (Array.isArray(schema.type)) return union(schema.type.map(t => sub({ ...schema, type: t }, hint)))
    switch (schema.type) {
      case 'string': return 'str'
      case 'integer': return 'int'
      case 'number': return 'float'
      case 'boolean': return 'bool'
      case 'null': return 'None'
      case 'array': return `List[${sub(schema.items, `${hint}Item`)}]`
    }
    if (schema.type === 'object' || isSchema(schema.properties)) {
      if (isSchema(schema.properties) && Object.keys(schema.properties).length > 0) return this.model(schema, hint, root, depth)
      return isSchema(schema.additionalProperties) ? `Dict[str, ${sub(schema.additionalProperties, `${hint}Value`)}]` : 'Dict[str, Any]'
    }
    return 'Any'
  }

  private model (schema: JsonSchema, hint: string, root: JsonSchema, depth: number): string {
    const name = this.names.take(pascal(hint))
    const required = new Set(Array.isArray(schema.required) ? schema.required as string[] : [])
    const idents = new NameAllocator(MODEL_ATTRS)
    const fields: Field[] = Object.entries(schema.properties as Record<string, unknown>).map(([wire, s]) => ({
      name: idents.take(pyIdent(wire)),
      wire,
      type: this.type(isSchema(s) ? s : {}, `${name}${pascal(wire)}`, root, depth + 1),
      required: required.has(wire)
    }))
    const lines = fields.map(f => {
      const type = f.required ? f.type : optional(f.type)
      const alias = f.name === f.wire ? '' : `, alias=${JSON.stringify(f.wire)}`
      if (f.required) return `    ${f.name}: ${type}${alias === '' ? '' : ` = Field(...${alias})`}`
      return `    ${f.name}: ${type} = ${alias === '' ? 'None' : `Field(None${alias})`}`
    })
    this.classes.push(`class ${name}(Model):\n${docstring(schema.description, '    ')}${lines.join('\n')}\n`)
    this.classNames.push(name)
    this.fields.set(name, fields)
    return name
  }
}

export function generatePython (api: Api, name: string): Map<string, string> {
  const pkg = snake(name)
  const models = new Models()
  const typed = api.methods.map(method => {
    const params = models.type(method.params, `${method.name} Params`)
    return { method, name: method.name, fields: models.fields.get(params), params, result: models.type(method.result, `${method.name} Result`) }
  })
  const events = api.events.map(e => ({ event: e, type: models.type(e.data, `${e.name} Event`) }))
  const header = `# Generated by fastify-ipc ${version} from ${api.title} ${api.version}. Do not edit: run \`fastify-ipc generate\` again.`

  const modelsPy = `${header}
"""Models of the params, results and event payloads of ${api.title}."""
from typing import Any, Dict, List, Literal, Optional, Union

from pydantic import Field

from ._pydantic import Model

__all__ = [${models.classNames.map(c => JSON.stringify(c)).join(', ')}]


${models.classes.join('\n\n')}`.replace(/\n{3,}$/, '\n')

  const overloads = events.length === 0
    ? ''
    : events.map(({ event, type }) => `    @overload
    def on(self, event: Literal[${JSON.stringify(event.name)}], handler: Callable[[${type}, EventMeta], Any]) -> Callable[[], None]: ...
`).join('\n') + `
    @overload
    def on(self, event: str, handler: Callable[[Any, EventMeta], Any]) -> Callable[[], None]: ...

`
  const tree = namespaceTree(typed)
  const namespaceClasses: string[] = []
  const clientPy = `${header}
"""Typed client of ${api.title} ${api.version}: \`\`await api.orders.get_status(order_id=1)\`\` for \`\`orders.getStatus\`\`."""
from typing import Any, Callable, Dict, List, Literal, Optional, Type, Union, overload

from ._pydantic import Model, dump, parse_as
from ._runtime import EventMeta, IpcClient, ProgressHandler
${models.classNames.length === 0 ? '' : `from .models import ${models.classNames.join(', ')}\n`}
__all__ = ["Api"]

#: The payload model of each event, by event name.
EVENTS: Dict[str, Any] = {${events.map(({ event, type }) => `${JSON.stringify(event.name)}: ${type}`).join(', ')}}


def _params(model: Type[Model], **values: Any) -> Dict[str, Any]:
    # None stands for "not given": optional fields are left out rather than sent as null.
    return dump(model(**{k: v for k, v in values.items() if v is not None}))

NAMESPACES
class Api:
    """${api.title} ${api.version}: ${api.methods.length} methods, ${api.events.length} events.

    \`\`Api(url, token=..., get_token=...)\`\` takes the options of \`\`IpcClient\`\`; \`\`api.client\`\` is that
    client (rooms, presence, state changes, untyped calls).
    """

    def __init__(self, url: str, **options: Any) -> None:
        self.client = IpcClient(url, **options)
${namespaceInits(tree, 'self.client', true, namespaceClasses, '')}
    async def __aenter__(self) -> "Api":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def connect(self) -> None:
        await self.client.connect()

    async def close(self) -> None:
        await self.client.close()

${overloads}    def on(self, event: str, handler: Callable[[Any, EventMeta], Any]) -> Callable[[], None]:
        """Calls \`\`handler(data, meta)\`\` for each \`\`event\`\`, \`\`data\`\` parsed into the event's model; returns
        the unsubscribe function."""
        model = EVENTS.get(event)
        return self.client.on(event, lambda data, meta: handler(data if model is None else parse_as(model, data), meta))
${methodDefs(tree, 'self.client', true)}`
  const files = new Map<string, string>()
  files.set(`${pkg}/client.py`, clientPy.replace('NAMESPACES\n', namespaceClasses.length === 0 ? '\n' : `\n${namespaceClasses.join('\n\n')}\n\n`))
  files.set(`${pkg}/models.py`, modelsPy)
  for (const file of RUNTIME) files.set(`${pkg}/${file}`, readFileSync(new URL(`./python/${file}`, import.meta.url), 'utf8'))
  files.set(`${pkg}/py.typed`, '')
  files.set(`${pkg}/__init__.py`, `${header}
from ._runtime import Backoff, EventMeta, IpcClient, IpcError, RecoveryReport
from .client import EVENTS, Api
from .models import *  # noqa: F401,F403

__all__ = ["Api", "Backoff", "EVENTS", "EventMeta", "IpcClient", "IpcError", "RecoveryReport"]
`)
  files.set('pyproject.toml', `[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = ${JSON.stringify(name)}
version = ${JSON.stringify(api.version)}
description = ${JSON.stringify(`Typed client for ${api.title}, generated by fastify-ipc`)}
readme = "README.md"
requires-python = ">=3.9"
dependencies = ["websockets>=10.4", "pydantic>=1.10,<3"]

[tool.setuptools]
packages = [${JSON.stringify(pkg)}]

[tool.setuptools.package-data]
${pkg} = ["py.typed"]
`)
  files.set('README.md', readme(api, name, pkg, typed[0]?.method, events[0]?.event.name))
  return files

  // Namespace objects are built in __init__: `self.orders = _Orders(self.client)`.
  function namespaceInits (node: NamespaceNode<Typed>, client: string, top: boolean, out: string[], path: string): string {
    const ids = new NameAllocator(top ? [...RESERVED, ...[...node.methods.keys()].map(pyIdent)] : [...node.methods.keys()].map(pyIdent))
    const lines: string[] = []
    for (const [seg, child] of node.children) {
      const cls = `_${pascal(`${path} ${seg}`)}`
      out.push(`class ${cls}:
    def __init__(self, client: IpcClient) -> None:
        self._client = client
${namespaceInits(child, 'self._client', false, out, `${path} ${seg}`)}${methodDefs(child, 'self._client', false)}`)
      lines.push(`        self.${ids.take(pyIdent(seg))} = ${cls}(${client})`)
    }
    return lines.length === 0 ? '' : lines.join('\n') + '\n'
  }

  function methodDefs (node: NamespaceNode<Typed>, client: string, top: boolean): string {
    const ids = new NameAllocator(top ? RESERVED : [])
    return [...node.methods].map(([seg, t]) => `
    async def ${ids.take(pyIdent(seg))}(${signature(t)}) -> ${t.result}:
${docstring(t.method.description, '        ')}        result = await ${client}.call(${JSON.stringify(t.method.name)}, ${paramsExpr(t)}, timeout=timeout, on_progress=on_progress)
        return ${t.result === 'Any' ? 'result' : `parse_as(${t.result}, result)`}  # type: ignore[no-any-return]
`).join('')
  }
}

interface Typed { method: ApiMethod, name: string, fields: Field[] | undefined, params: string, result: string }

// Keyword-only arguments: the params' fields (required ones first), then timeout and on_progress.
function signature (t: Typed): string {
  const args = ['self', '*']
  if (t.fields === undefined) {
    args.push(`params: Optional[${t.params}] = None`)
  } else {
    const ids = new NameAllocator(CALL_KWARGS)
    const ordered = [...t.fields.filter(f => f.required), ...t.fields.filter(f => !f.required)]
    for (const f of ordered) {
      const kw = ids.take(f.name)
      argNames.set(f, kw)
      args.push(f.required ? `${kw}: ${f.type}` : `${kw}: ${optional(f.type)} = None`)
    }
  }
  args.push('timeout: Optional[float] = None', 'on_progress: Optional[ProgressHandler] = None')
  return args.join(', ')
}

const argNames = new WeakMap<Field, string>()

function paramsExpr (t: Typed): string {
  if (t.fields === undefined) return t.params.startsWith('Dict[') ? 'params or {}' : 'params'
  return `_params(${t.params}${t.fields.map(f => `, ${f.name}=${argNames.get(f) ?? f.name}`).join('')})`
}

function optional (type: string): string {
  return type === 'Any' || type === 'None' || type.startsWith('Optional[') ? type : `Optional[${type}]`
}

function union (types: string[]): string {
  const distinct = [...new Set(types)]
  if (distinct.includes('Any')) return 'Any'
  const rest = distinct.filter(t => t !== 'None')
  // An enum written as anyOf of consts (TypeBox's Union of Literals) reads better as one Literal.
  const literals = rest.every(t => /^Literal\[.*\]$/.test(t)) ? `Literal[${rest.map(t => t.slice(8, -1)).join(', ')}]` : undefined
  const base = rest.length === 0 ? 'None' : rest.length === 1 ? rest[0] : literals ?? `Union[${rest.join(', ')}]`
  return rest.length < distinct.length ? optional(base) : base
}

function literal (values: unknown[]): string {
  const lits = values.filter(v => v !== null).map(v => typeof v === 'boolean' ? (v ? 'True' : 'False') : typeof v === 'string' || typeof v === 'number' ? JSON.stringify(v) : undefined)
  if (lits.includes(undefined) || lits.length === 0) return values.length === 1 && values[0] === null ? 'None' : 'Any'
  const type = `Literal[${lits.join(', ')}]`
  return values.includes(null) ? `Optional[${type}]` : type
}

function resolve (root: JsonSchema, ref: string): JsonSchema | undefined {
  if (!ref.startsWith('#')) return undefined
  let node: unknown = root
  for (const part of ref.slice(1).split('/').filter(p => p !== '')) {
    node = isSchema(node) ? node[decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~')] : undefined
  }
  return isSchema(node) ? node : undefined
}

function isSchema (value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function docstring (text: unknown, indent: string): string {
  if (typeof text !== 'string' || text === '') return ''
  return `${indent}"""${text.replace(/\\/g, '\\\\').replace(/"""/g, '\\"\\"\\"').replace(/\n/g, `\n${indent}`)}"""\n`
}

function readme (api: Api, name: string, pkg: string, method: ApiMethod | undefined, event: string | undefined): string {
  const call = method === undefined ? '' : `        result = await api.${method.name.split('.').map(s => pyIdent(s)).join('.')}(...)  # keyword arguments, typed\n`
  const on = event === undefined ? '' : `        api.on(${JSON.stringify(event)}, lambda data, meta: print(data))  # data: the event's model\n`
  return `# ${name}

Typed asyncio client for **${api.title}** ${api.version}, generated by \`fastify-ipc generate\`.
Python 3.9+, \`websockets\` (10.4 or later) and \`pydantic\` (1.10 or 2.x).

\`\`\`python
import asyncio
from ${pkg} import Api, IpcError

async def main() -> None:
    async with Api("ws://localhost:8765/ws", get_token=fetch_token) as api:
${call}${on}        await api.client.join("room-name")
        try:
            ...
        except IpcError as e:
            print(e.code, e.message, e.data)

asyncio.run(main())
\`\`\`

## Install

Put this directory on \`PYTHONPATH\`, or install it (setuptools) with \`pip install <this directory>\`.
Without PyPI, use a virtualenv that sees the system's \`websockets\` and \`pydantic\`
(\`python3 -m venv --system-site-packages .venv\`) and \`.venv/bin/pip install --no-build-isolation <this directory>\`.

## Names

- A method \`orders.getStatus\` is \`await api.orders.get_status(**params, timeout=None, on_progress=None)\`:
  each dot is a namespace, names are snake_case, params are keyword arguments (\`None\` leaves one out).
  Its models are \`OrdersGetStatusParams\` and \`OrdersGetStatusResult\` (pydantic, in \`${pkg}.models\`).
- An event \`order.updated\` has the payload model \`OrderUpdatedEvent\`; \`api.on(name, handler)\` parses it.
- A name that clashes with a Python keyword or a member of \`Api\` (${RESERVED.join(', ')}) gets a trailing \`_\`.

## Behaviour

\`IpcClient\` (\`api.client\`) authenticates with \`rpc.auth\` (\`token=\` or \`get_token=\`, sync or async),
refreshes the token before it expires and after a 4003 close, reconnects with exponential backoff and full
jitter (\`reconnect=Backoff(initial_delay=0.5, max_delay=30.0)\`, or \`False\`), rejoins its rooms, and waits
for the connection for calls made while disconnected (\`queue_max=100\`, \`queue_timeout=10.0\`). Calls in flight
when the connection drops raise \`IpcError\` with code \`IpcError.UNAVAILABLE\` (-32050); a call without an
answer within \`timeout\` (default \`call_timeout=10.0\` s) raises \`IpcError.DEADLINE_EXCEEDED\` (-32008).
After a reconnect it recovers the events of its rooms and user missed meanwhile (targets that keep history;
\`recover=False\` turns it off) and tells \`client.on_recovery(listener)\` per target whether that worked
(\`RecoveryReport(target, recovered)\`: when \`recovered\` is false, refetch that target's state). Calls to
\`idempotent_methods=[...]\`, or \`client.call(..., idempotency_key=True)\`, survive a dropped connection: they
are sent again with their key and answered from their one run.
`
}
