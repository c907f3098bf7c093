/**
 * WebSocket text messages as a server puts them on the wire (RFC 6455 §5.2): FIN, opcode 1, no
 * mask, the payload length in 7, 7+16 or 7+64 bits, then the payload. Built here rather than by
 * ws's sender so that a connection's messages of one tick leave as one buffer in one write, and a
 * fan-out frames an event once for all its subscribers.
 */
const headerLength = (n: number): number => (n < 126 ? 2 : n < 0x10000 ? 4 : 10)

function writeHeader(n: number, target: Buffer, at: number): number {
  target[at] = 0x81
  if (n < 126) {
    target[at + 1] = n
    return at + 2
  }
  if (n < 0x10000) {
    target[at + 1] = 126
    target.writeUInt16BE(n, at + 2)
    return at + 4
  }
  target[at + 1] = 127
  target.writeUInt32BE(Math.floor(n / 2 ** 32), at + 2)
  target.writeUInt32BE(n >>> 0, at + 6)
  return at + 10
}

/** One message, framed. */
export const frameText = (payload: Uint8Array): Buffer => frameTexts([payload])

/** Several messages, framed back to back in one buffer (one copy of each payload). */
export function frameTexts(payloads: readonly Uint8Array[]): Buffer {
  let size = 0
  for (const p of payloads) size += headerLength(p.length) + p.length
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (const p of payloads) {
    at = writeHeader(p.length, out, at)
    out.set(p, at)
    at += p.length
  }
  return out
}
