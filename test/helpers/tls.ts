// A throwaway certificate authority and a server certificate for 127.0.0.1 (openssl), for Redis
// servers that speak TLS only. Clients trust the CA: `ca` in ioredis' `tls`, NODE_EXTRA_CA_CERTS
// for a child process.
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

export interface TlsFiles { ca: string, cert: string, key: string }

export async function makeCerts (dir: string): Promise<TlsFiles> {
  const run = async (...args: string[]): Promise<void> => {
    await promisify(execFile)('openssl', args, { cwd: dir }).catch((err: Error) => {
      throw new Error(`openssl ${args[0]} failed (openssl comes with Debian's openssl package): ${err.message}`)
    })
  }
  await run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=fastify-ipc test CA', '-keyout', 'ca.key', '-out', 'ca.crt')
  await run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr')
  // clients check the address they dialled against the certificate's subjectAltName
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n')
  await run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'san.ext', '-out', 'server.crt')
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') }
}
