import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { frameText, frameTexts } from './ws-frame.ts'

// The check is a real client's parser: ws reads our frames off a socket we write them to.
const wss = new WebSocketServer({ noServer: true })
afterAll(() => wss.close())

/** Opens a client, hands the server side of the upgraded socket to `write`, resolves with what the client got. */
async function receive(count: number, write: (socket: Socket) => void): Promise<{ data: string; binary: boolean }[]> {
  const upgrades = createServer()
  upgrades.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => write(socket as Socket)))
  upgrades.listen(0, '127.0.0.1')
  await once(upgrades, 'listening')
  const client = new WebSocket(`ws://127.0.0.1:${(upgrades.address() as AddressInfo).port}`)
  const got: { data: string; binary: boolean }[] = []
  await new Promise<void>((resolve, reject) => {
    client.on('message', (data: Buffer, binary) => {
      got.push({ data: data.toString(), binary })
      if (got.length === count) resolve()
    })
    client.on('error', reject)
  })
  client.terminate()
  upgrades.close()
  return got
}

describe('frameText', () => {
  it('frames that a WebSocket client reads back as the same text, at every length encoding', async () => {
    const texts = ['', 'x', 'é😀', 'a'.repeat(125), 'b'.repeat(126), 'c'.repeat(0xffff), 'd'.repeat(0x10000), 'e'.repeat(300_000)]
    const got = await receive(texts.length, (socket) => socket.write(Buffer.concat(texts.map((t) => frameText(Buffer.from(t))))))
    expect(got.map((m) => m.binary)).toEqual(texts.map(() => false))
    expect(got.map((m) => m.data)).toEqual(texts)
  })

  it('frames many messages back to back in one buffer, as the same texts in order', async () => {
    const texts = ['["OK","a",true,""]', 'é'.repeat(200), '', 'x'.repeat(70_000), '["EOSE","q"]']
    const got = await receive(texts.length, (socket) => socket.write(frameTexts(texts.map((t) => Buffer.from(t)))))
    expect(got.map((m) => m.binary)).toEqual(texts.map(() => false))
    expect(got.map((m) => m.data)).toEqual(texts)
  })

  it('uses the shortest length field', () => {
    expect([...frameText(Buffer.from('hi'))]).toEqual([0x81, 2, 104, 105])
    expect(frameText(new Uint8Array(126)).subarray(0, 4)).toEqual(Buffer.from([0x81, 126, 0, 126]))
    expect(frameText(new Uint8Array(0x10000)).subarray(0, 10)).toEqual(Buffer.from([0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]))
  })
})
