// Turns wire names (`orders.getStatus`, `order.updated`, `orderId`) into identifiers for each language.
import { CodegenError } from './openrpc.js'

/** Words of a name: splits on separators and camelCase humps (`getHTTPStatus2` → get, HTTP, Status2). */
export function words (name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(w => w !== '')
}

const cap = (w: string): string => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()

export function pascal (name: string): string {
  const id = words(name).map(cap).join('')
  return /^[0-9]/.test(id) || id === '' ? `_${id}` : id
}

export function camel (name: string): string {
  const p = pascal(name)
  return p.startsWith('_') ? p : p.charAt(0).toLowerCase() + p.slice(1)
}

export function snake (name: string): string {
  const id = words(name).map(w => w.toLowerCase()).join('_')
  return /^[0-9]/.test(id) || id === '' ? `_${id}` : id
}

const PYTHON_KEYWORDS = new Set(['False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break', 'class', 'continue', 'def', 'del', 'elif', 'else', 'except', 'finally', 'for', 'from', 'global', 'if', 'import', 'in', 'is', 'lambda', 'nonlocal', 'not', 'or', 'pass', 'raise', 'return', 'try', 'while', 'with', 'yield', 'match', 'case', 'type'])

/** A Python identifier for `name` (`getStatus` → `get_status`), with a trailing `_` after a keyword. */
export function pyIdent (name: string): string {
  const id = snake(name)
  return PYTHON_KEYWORDS.has(id) ? `${id}_` : id
}

/**
 * Hands out distinct names. Identifiers get a trailing `_` on a clash (`close` → `close_`, the Python and
 * TS habit); type names a number (`OrdersGetParams` → `OrdersGetParams2`).
 */
export class NameAllocator {
  private readonly used: Set<string>
  constructor (reserved: Iterable<string> = [], private readonly style: 'identifier' | 'type' = 'identifier') {
    this.used = new Set(reserved)
  }

  take (name: string): string {
    let n = name
    for (let i = 2; this.used.has(n); i++) n = this.style === 'type' ? `${name}${i}` : `${name}${'_'.repeat(i - 1)}`
    this.used.add(n)
    return n
  }
}

/** One namespace level of the method tree: `orders.getStatus` lives at orders → getStatus. */
export interface NamespaceNode<M> { methods: Map<string, M>, children: Map<string, NamespaceNode<M>> }

/** Groups methods by the dotted segments of their names; throws when a name is both a method and a namespace. */
export function namespaceTree<M extends { name: string }> (methods: readonly M[]): NamespaceNode<M> {
  const root: NamespaceNode<M> = { methods: new Map(), children: new Map() }
  for (const m of methods) {
    const segments = m.name.split('.')
    const leaf = segments.pop() as string
    let node = root
    for (const s of segments) {
      let child = node.children.get(s)
      if (child === undefined) node.children.set(s, child = { methods: new Map(), children: new Map() })
      node = child
    }
    node.methods.set(leaf, m)
  }
  checkClashes(root, '')
  return root
}

function checkClashes<M> (node: NamespaceNode<M>, prefix: string): void {
  for (const [name, child] of node.children) {
    if (node.methods.has(name)) throw new CodegenError(`"${prefix}${name}" is both a method and a namespace of methods; rename one of them`)
    checkClashes(child, `${prefix}${name}.`)
  }
}
