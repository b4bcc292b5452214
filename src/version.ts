import { createRequire } from 'node:module'

// Read at run time so the compiled file and the source agree with package.json.
const require = createRequire(import.meta.url)
function find (): string {
  for (const p of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(p) as { name?: string, version?: string }
      if (pkg.name === 'fastify-ipc' && typeof pkg.version === 'string') return pkg.version
    } catch {}
  }
  return '0.0.0'
}
export const version = find()
