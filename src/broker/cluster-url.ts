// A Redis Cluster reached through one of its nodes, named by a redis:// or rediss:// URL: ioredis
// finds the other nodes from it, and they are given the URL's credentials and TLS too.
import { Cluster, type ClusterOptions } from 'ioredis'

export function clusterFromUrl (url: string, options: ClusterOptions = {}): Cluster {
  const u = new URL(url)
  const auth = {
    ...(u.username === '' ? {} : { username: decodeURIComponent(u.username) }),
    ...(u.password === '' ? {} : { password: decodeURIComponent(u.password) }),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {})
  }
  return new Cluster([{ host: u.hostname, port: u.port === '' ? 6379 : Number(u.port) }], { ...options, redisOptions: { ...options.redisOptions, ...auth } })
}
