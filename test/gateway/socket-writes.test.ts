// The `ws` behaviour src/gateway/socket-writes.ts relies on, against the `ws` version installed:
// a server-side WebSocket keeps its TCP socket as `_socket`, and `send` writes a frame into that
// socket at once, so corking it for a turn makes the frames of the turn leave in one write.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect, Socket } from 'node:net'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { WebSocketServer, type WebSocket } from 'ws'
import { holdForTurn } from '../../src/gateway/socket-writes.js'

const FRAMES = ['{"id":1}', '{"id":2}', '{"id":3}']

/** A raw TCP client that upgrades and then records every `data` event after the 101 response. */
async function rawClient (port: number): Promise<{ socket: Socket, chunks: Buffer[] }> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`)
  const chunks: Buffer[] = []
  let upgraded = false
  socket.on('data', (chunk: Buffer) => {
    if (upgraded) chunks.push(chunk)
    else {
      const end = chunk.indexOf('\r\n\r\n')
      assert.match(chunk.toString('latin1', 0, end), /^HTTP\/1\.1 101/)
      upgraded = true
      if (end + 4 < chunk.length) chunks.push(chunk.subarray(end + 4))
    }
  })
  return { socket, chunks }
}

/** the payloads of unmasked text frames shorter than 126 bytes */
function payloads (data: Buffer): string[] {
  const out: string[] = []
  for (let i = 0; i < data.length; i += 2 + data[i + 1]) {
    assert.equal(data[i], 0x81, 'a final text frame')
    out.push(data.toString('utf8', i + 2, i + 2 + data[i + 1]))
  }
  return out
}

test('the frames sent in one turn leave in one write, released on the next turn', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await once(wss, 'listening')
  try {
    const accepted = once(wss, 'connection') as Promise<[WebSocket]>
    const { socket: client, chunks } = await rawClient((wss.address() as { port: number }).port)
    const [ws] = await accepted

    const raw = (ws as unknown as { _socket: unknown })._socket
    assert.ok(raw instanceof Socket, 'a server-side WebSocket keeps its TCP socket as `_socket`')
    assert.equal(raw.writableCorked, 0)

    holdForTurn(ws)
    holdForTurn(ws) // once per turn, however many frames
    for (const f of FRAMES) ws.send(f)
    assert.equal(raw.writableCorked, 1)
    const frameBytes = FRAMES.reduce((n, f) => n + 2 + f.length, 0)
    assert.equal(raw.writableLength, frameBytes, 'ws.send wrote every frame into the socket at once, where the cork holds them')

    await nextTurn()
    assert.equal(raw.writableCorked, 0, 'released on the next turn')
    assert.equal(raw.writableLength, 0)

    while (chunks.length === 0) await once(client, 'data')
    assert.equal(chunks.length, 1, 'one TCP write, read at once')
    assert.deepEqual(payloads(chunks[0]), FRAMES)
    client.destroy()
  } finally {
    for (const ws of wss.clients) ws.terminate()
    wss.close()
  }
})

test('a WebSocket whose socket is gone is left alone', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await once(wss, 'listening')
  try {
    const accepted = once(wss, 'connection') as Promise<[WebSocket]>
    const { socket: client } = await rawClient((wss.address() as { port: number }).port)
    const [ws] = await accepted
    client.destroy()
    await once(ws, 'close')
    assert.doesNotThrow(() => holdForTurn(ws))
    ws.send('late', err => assert.ok(err instanceof Error))
  } finally {
    wss.close()
  }
})
