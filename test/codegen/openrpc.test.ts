// /openrpc.json and rpc.discover are valid OpenRPC documents (our x-* extensions included), and the
// generator's loader reads them and plain OpenRPC documents alike.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import metaSchemaPackage from '@open-rpc/meta-schema'
import { validateOpenRPCDocument } from '@open-rpc/schema-utils-js'
import { Ajv } from 'ajv'
import draft7 from 'ajv/dist/refs/json-schema-draft-07.json' with { type: 'json' }
import { CodegenError, toApi } from '../../src/codegen/openrpc.js'
import { camel, NameAllocator, namespaceTree, pascal, pyIdent } from '../../src/codegen/names.js'
import { TestClient, token } from '../helper.js'
import { startFixture } from './fixture.js'

// The meta-schema refers to its JSON Schema dialect by URL (https://meta.json-schema.tools, with and without
// the slash); draft-07's meta-schema stands in for it, so every schema in the document is checked too.
function metaSchemaValidator (): (doc: unknown) => string[] {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false })
  for (const $id of ['https://meta.json-schema.tools', 'https://meta.json-schema.tools/']) {
    ajv.addSchema({ ...draft7, $id, definitions: { ...draft7.definitions, JSONSchemaObject: { properties: { $ref: { type: 'string' } } } } })
  }
  // The package's typings declare only the document's types, not the `openrpcDocument` value it exports.
  const { openrpcDocument } = metaSchemaPackage as unknown as { openrpcDocument: Record<string, unknown> }
  const { $schema, ...schema } = openrpcDocument
  const validate = ajv.compile(schema)
  return doc => validate(doc) ? [] : (validate.errors ?? []).map(e => `${e.instancePath} ${e.message ?? ''}`)
}

test('/openrpc.json and rpc.discover validate against the OpenRPC meta-schema and the tooling\'s validator', async (t) => {
  const gw = await startFixture()
  t.after(async () => await gw.close())
  const validate = metaSchemaValidator()

  const doc = await (await fetch(`${gw.http}/openrpc.json`)).json() as { methods: Array<{ name: string }>, 'x-events': unknown[] }
  assert.deepEqual(validate(doc), [])
  // and by the OpenRPC tooling's own validator (true, or an error listing what is wrong)
  assert.equal(validateOpenRPCDocument(doc as never), true)
  assert.equal(doc.methods.length, 7)
  assert.equal(doc['x-events'].length, 2)

  const client = await TestClient.connect(gw.url, { auth: token({ sub: '42' }) })
  t.after(async () => await client.close())
  const discovered = (await client.call('rpc.discover', {})).result
  assert.deepEqual(validate(discovered), [])
  assert.equal(validateOpenRPCDocument(discovered), true)
  assert.deepEqual(discovered.methods.map((m: { name: string }) => m.name), doc.methods.map(m => m.name))

  // The validator is not a rubber stamp.
  assert.notDeepEqual(validate({ ...doc, methods: [{ name: 'x', params: [{ name: 'a', schema: { type: 'integr' } }], result: { name: 'r', schema: {} } }] }), [])
  assert.notDeepEqual(validate({ ...doc, 'y-events': [] }), [])
  assert.notEqual(validateOpenRPCDocument({ ...doc, methods: [{ name: 'x', paramStructure: 'by-index' }] } as never), true)
})

test('the loader reads x-params-schema, rebuilds params of plain OpenRPC, skips rpc.* and rejects non-OpenRPC', () => {
  const api = toApi({
    openrpc: '1.2.6',
    info: { title: 'plain', version: '1.0.0' },
    methods: [
      { name: 'rpc.ping', params: [], result: { name: 'r', schema: {} } },
      { name: 'users.find', params: [{ name: 'q', required: true, schema: { type: 'string' } }, { name: 'limit', schema: { type: 'integer' } }], result: { name: 'r', schema: { type: 'array' } } }
    ]
  })
  assert.deepEqual(api.methods.map(m => m.name), ['users.find'])
  assert.deepEqual(api.methods[0].params, { type: 'object', properties: { q: { type: 'string' }, limit: { type: 'integer' } }, required: ['q'] })
  assert.deepEqual(api.events, [])
  assert.throws(() => toApi({ openapi: '3.1.0' }), CodegenError)
})

test('names become idiomatic identifiers in each language', () => {
  assert.deepEqual(['orders.getStatus', 'order.updated', 'getHTTPStatus2', 'user_id'].map(pascal), ['OrdersGetStatus', 'OrderUpdated', 'GetHttpStatus2', 'UserId'])
  assert.deepEqual(['getStatus', 'get_status', 'HTTPServer'].map(camel), ['getStatus', 'getStatus', 'httpServer'])
  assert.deepEqual(['getStatus', 'orderId', 'from', 'class', 'getHTTPStatus'].map(pyIdent), ['get_status', 'order_id', 'from_', 'class_', 'get_http_status'])
  const ids = new NameAllocator(['close'])
  assert.deepEqual([ids.take('close'), ids.take('close'), ids.take('get')], ['close_', 'close__', 'get'])
  const types = new NameAllocator([], 'type')
  assert.deepEqual([types.take('A'), types.take('A')], ['A', 'A2'])
  const tree = namespaceTree([{ name: 'echo' }, { name: 'orders.get' }, { name: 'a.b.c' }])
  assert.deepEqual([...tree.methods.keys()], ['echo'])
  assert.deepEqual([...tree.children.keys()], ['orders', 'a'])
  assert.deepEqual([...tree.children.get('a')!.children.get('b')!.methods.keys()], ['c'])
  assert.throws(() => namespaceTree([{ name: 'orders' }, { name: 'orders.get' }]), /both a method and a namespace/)
})
