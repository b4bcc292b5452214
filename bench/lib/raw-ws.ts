// A minimal WebSocket client over a raw TCP socket, for the load generators only. The `ws` client
// costs the load process more CPU per message than the bare server it measures (it masks every
// frame in JavaScript without bufferutil), which on a 2-core machine makes the clients, not the
// server, the bottleneck. This one sends with an all-zero masking key (valid framing: the payload
// goes out as it is), writes the frames answered from one TCP read in one corked write, and parses
// the unmasked frames servers send by hand. Not a general client: no fragmentation, no extensions.
import { connect, type Socket } from 'node:net'

export interface RawOptions { url: string, headers?: Record<string, string> }

export class RawSocket {
  private rest: Buffer | null = null
  closed = false
  onFrame: (payload: Buffer) => void = () => {}
  onClose: (code: number) => void = () => {}

  private constructor (private readonly sock: Socket) {
    sock.on('data', chunk => this.data(chunk))
    sock.on('close', () => this.gone(1006))
    sock.on('error', () => {})
  }

  static async connect (opts: RawOptions): Promise<RawSocket> {
    const url = new URL(opts.url)
    // No localAddress: an explicit bind() makes Linux search for a free port under a lock, which cut
    // the connect rate to a tenth here; each scenario's server port is new, so ports never clash.
    const sock = connect({ host: url.hostname, port: Number(url.port) })
    sock.setNoDelay(true)
    const extra = Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('')
    sock.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: YmVuY2gtbG9hZC1rZXkhIQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`)
    const rest = await new Promise<Buffer>((resolve, reject) => {
      let head = Buffer.alloc(0)
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk])
        const end = head.indexOf('\r\n\r\n')
        if (end < 0) return
        sock.off('data', onData)
        sock.off('error', reject)
        sock.off('close', onClose)
        const status = head.toString('latin1', 0, head.indexOf('\r\n'))
        if (!status.includes(' 101 ')) {
          sock.destroy()
          reject(new Error(status))
          return
        }
        resolve(head.subarray(end + 4))
      }
      const onClose = (): void => reject(new Error('connection closed during the upgrade'))
      sock.on('data', onData)
      sock.once('error', reject)
      sock.once('close', onClose)
    })
    const ws = new RawSocket(sock)
    if (rest.length > 0) ws.data(rest)
    return ws
  }

  send (text: string): void {
    if (!this.closed) this.sock.write(frame(text, 0x1))
  }

  terminate (): void {
    this.closed = true
    this.sock.destroy()
  }

  /** Parses every complete frame; what they cause to be sent goes out in one write. */
  private data (chunk: Buffer): void {
    const data = this.rest === null ? chunk : Buffer.concat([this.rest, chunk])
    let off = 0
    this.sock.cork()
    while (data.length - off >= 2) {
      const b0 = data[off]
      const b1 = data[off + 1]
      let len = b1 & 0x7f
      let p = off + 2
      if (len === 126) {
        if (data.length - off < 4) break
        len = data.readUInt16BE(off + 2)
        p += 2
      } else if (len === 127) {
        if (data.length - off < 10) break
        len = Number(data.readBigUInt64BE(off + 2))
        p += 8
      }
      if ((b1 & 0x80) !== 0) p += 4
      if (data.length < p + len) break
      const op = b0 & 0x0f
      const payload = data.subarray(p, p + len)
      off = p + len
      if (op === 0x1 || op === 0x2) this.onFrame(payload)
      else if (op === 0x9) this.sock.write(frame(payload, 0xa))
      else if (op === 0x8) {
        const code = len >= 2 ? payload.readUInt16BE(0) : 1005
        if (!this.closed) this.sock.write(frame(payload.subarray(0, 2), 0x8))
        this.sock.end()
        this.gone(code)
      }
    }
    this.sock.uncork()
    this.rest = off < data.length ? data.subarray(off) : null
  }

  private gone (code: number): void {
    if (this.closed) return
    this.closed = true
    this.onClose(code)
  }
}

/** A client frame with a zero masking key, so the payload is copied as it is. */
function frame (payload: string | Buffer, opcode: number): Buffer {
  const len = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
  const head = len < 126 ? 6 : len < 65536 ? 8 : 14
  const b = Buffer.allocUnsafe(head + len)
  b[0] = 0x80 | opcode
  if (len < 126) {
    b[1] = 0x80 | len
  } else if (len < 65536) {
    b[1] = 0x80 | 126
    b.writeUInt16BE(len, 2)
  } else {
    b[1] = 0x80 | 127
    b.writeBigUInt64BE(BigInt(len), 2)
  }
  b.writeUInt32BE(0, head - 4)
  if (typeof payload === 'string') b.write(payload, head)
  else payload.copy(b, head)
  return b
}
