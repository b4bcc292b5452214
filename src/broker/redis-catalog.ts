// The remote method catalog: every `ipc:methods:<service>` hash, loaded on start and after an
// outage (SCAN), and one service again on each `ipc:catalog` message. Invalid specs are skipped.
import type { FastifyBaseLogger } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { type MethodSpec, serviceOf, validators } from '../protocol/frames.js'
import type { Keys } from './keys.js'
import type { RedisClient } from './redis-link.js'

export class Catalog {
  readonly methods = new Map<string, MethodSpec>()
  /** service -> its method names */
  private readonly services = new Map<string, string[]>()
  /** `service/method/raw spec` already reported invalid, so a bad spec is logged once */
  private readonly reported = new Set<string>()
  private readonly methodsPrefix: string

  constructor (private readonly redis: RedisClient, private readonly keys: Keys, private readonly log: FastifyBaseLogger) {
    this.methodsPrefix = keys.methods('')
  }

  /** the services that published methods */
  serviceNames (): Iterable<string> {
    return this.services.keys()
  }

  /**
   * Reloads every service's hash. A service known before whose hash is gone is kept: after an
   * outage Redis may come back empty (no persistence) before the workers publish their methods
   * again, and meanwhile its methods must answer -32050 (no live worker), not -32601. Only a
   * catalog message for the service itself (load) drops it.
   */
  async loadAll (): Promise<void> {
    const found = new Map<string, Record<string, string>>()
    for (const key of await this.scan(escapeGlob(this.methodsPrefix) + '*')) {
      const service = key.slice(this.methodsPrefix.length)
      found.set(service, await this.redis.hgetall(key))
    }
    for (const [service, hash] of found) this.replace(service, hash)
  }

  /** Reloads one service (after `PUBLISH ipc:catalog <service>`). */
  async load (service: string): Promise<void> {
    this.replace(service, await this.redis.hgetall(this.keys.methods(service)))
  }

  private replace (service: string, hash: Record<string, string>): void {
    for (const name of this.services.get(service) ?? []) this.methods.delete(name)
    const names: string[] = []
    for (const [name, raw] of Object.entries(hash)) {
      const spec = this.parse(service, name, raw)
      if (spec === null) continue
      this.methods.set(name, spec)
      names.push(name)
    }
    if (names.length > 0) this.services.set(service, names)
    else this.services.delete(service)
  }

  private parse (service: string, name: string, raw: string): MethodSpec | null {
    let spec: unknown
    let problem: string | null = null
    try {
      spec = JSON.parse(raw)
    } catch {
      problem = 'not JSON'
    }
    if (problem === null && !validators.methodSpec.Check(spec)) problem = 'does not match the method spec'
    // a schema must be an object for the registry to compile it
    else if (problem === null && !(isSchema((spec as MethodSpec).params) && isSchema((spec as MethodSpec).result))) problem = 'params/result must be JSON Schema objects'
    else if (problem === null && (name.startsWith('rpc.') || serviceOf(name) !== service)) problem = `the method name does not belong to service "${service}"`
    if (problem === null) return spec as MethodSpec
    const key = `${service}/${name}/${raw}`
    if (!this.reported.has(key)) {
      this.reported.add(key)
      this.log.warn({ service, method: name }, `skipping remote method: its spec ${problem}`)
    }
    return null
  }

  // SCAN every master of a cluster, or the one server.
  private async scan (match: string): Promise<string[]> {
    const nodes = this.redis.isCluster ? (this.redis as Cluster).nodes('master') : [this.redis as Redis]
    const keys: string[] = []
    for (const node of nodes) {
      let cursor = '0'
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', match, 'COUNT', 500)
        cursor = next
        keys.push(...batch)
      } while (cursor !== '0')
    }
    return [...new Set(keys)]
  }
}

const isSchema = (s: unknown): boolean => s === undefined || (s !== null && typeof s === 'object' && !Array.isArray(s))

const escapeGlob = (s: string): string => s.replace(/[*?[\]\\]/g, '\\$&')
