import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { nip77 } from 'nostr-tools'

/**
 * The relay's role in Negentropy V1 (NIP-77). nostr-tools' `Negentropy.reconcile` only plays the
 * initiator: given a range as an id list it works out have/need and skips it, where the
 * responder must answer with its own ids for that range — so a client never learns what the relay
 * holds in small ranges. This subclass overrides `reconcile` with the responder's rules (those of
 * hoytech/negentropy) and reuses the rest of nostr-tools: storage, fingerprints, bounds, splitting.
 */

// nostr-tools exports NIP-77 only from its index (there is no 'nostr-tools/nip77' subpath).
const { Negentropy, NegentropyStorageVector } = nip77
export { Negentropy, NegentropyStorageVector }
export type Negentropy = InstanceType<typeof Negentropy>
export type NegentropyStorageVector = InstanceType<typeof NegentropyStorageVector>

/** nostr-tools' growable byte buffer, which it uses everywhere but does not export. */
type Buffer = ReturnType<Negentropy['encodeBound']>
type Bound = ReturnType<Negentropy['decodeBound']>

export const PROTOCOL_VERSION = 0x61
const ID_SIZE = 32
const FINGERPRINT_SIZE = 16
const MODE_SKIP = 0
const MODE_FINGERPRINT = 1
const MODE_ID_LIST = 2

/** A message the responder cannot read; the relay answers NEG-ERR `invalid:`. */
export class NegentropyMessageError extends Error {
  override readonly name = 'NegentropyMessageError'
}

export class NegentropyResponder extends Negentropy {
  /** Answers one message from the initiator; never null (a bare version byte means "done"). */
  override reconcile(queryMsg: string): string {
    const Buf = this.encodeBound(this._bound(0)).constructor as new (init?: Uint8Array) => Buffer
    const query = new Buf(hexToBytes(queryMsg))
    this.lastTimestampIn = this.lastTimestampOut = 0
    const full = new Buf(new Uint8Array([PROTOCOL_VERSION]))

    const version = readBytes(query, 1)[0]
    if (version < 0x60 || version > 0x6f) throw new NegentropyMessageError('not a negentropy message (bad protocol version byte)')
    // An unknown version gets ours alone, so the initiator can fall back to it.
    if (version !== PROTOCOL_VERSION) return bytesToHex(full.unwrap())

    const storage = this.storage
    const size = storage.size()
    let prevBound: Bound = this._bound(0)
    let prevIndex = 0
    let skip = false
    while (query.length !== 0) {
      let o = new Buf()
      const flushSkip = (): void => {
        if (!skip) return
        skip = false
        o.extend(this.encodeBound(prevBound))
        o.extend(encodeVarInt(MODE_SKIP))
      }
      const currBound = this.decodeBound(query)
      const mode = decodeVarInt(query)
      const lower = prevIndex
      let upper = storage.findLowerBound(prevIndex, size, currBound)

      if (mode === MODE_SKIP) {
        skip = true
      } else if (mode === MODE_FINGERPRINT) {
        const theirs = readBytes(query, FINGERPRINT_SIZE)
        if (equalBytes(theirs, storage.fingerprint(lower, upper))) skip = true
        else {
          flushSkip()
          this.splitRange(lower, upper, currBound, o)
        }
      } else if (mode === MODE_ID_LIST) {
        // Their ids are for them to compare: we answer with ours for the range.
        readBytes(query, decodeVarInt(query) * ID_SIZE)
        flushSkip()
        const ids = new Buf()
        let count = 0
        let endBound: Bound = currBound
        storage.iterate(lower, upper, (item, index) => {
          if (this.exceededFrameSizeLimit(full.length + ids.length)) {
            endBound = item
            upper = index // the rest of the range goes into the closing fingerprint
            return false
          }
          ids.extend(item.id)
          count++
          return true
        })
        o.extend(this.encodeBound(endBound))
        o.extend(encodeVarInt(MODE_ID_LIST))
        o.extend(encodeVarInt(count))
        o.extend(ids)
        full.extend(o)
        o = new Buf()
      } else {
        throw new NegentropyMessageError(`unknown range mode ${mode}`)
      }

      if (this.exceededFrameSizeLimit(full.length + o.length)) {
        // Out of room: one fingerprint for everything left, and the initiator continues from there.
        full.extend(this.encodeBound(this._bound(Number.MAX_VALUE)))
        full.extend(encodeVarInt(MODE_FINGERPRINT))
        full.extend(storage.fingerprint(upper, size))
        break
      }
      full.extend(o)
      prevIndex = upper
      prevBound = currBound
    }
    return bytesToHex(full.unwrap())
  }
}

function readBytes(buf: Buffer, n: number): Uint8Array {
  if (!(n >= 0) || buf.length < n) throw new NegentropyMessageError('message ends prematurely')
  return buf.shiftN(n)
}

/** Capped at 2^32 so a crafted varint cannot turn into a huge or fractional count. */
function decodeVarInt(buf: Buffer): number {
  let n = 0
  for (;;) {
    const byte = readBytes(buf, 1)[0]
    n = n * 128 + (byte & 0x7f)
    if (n > 0xffffffff) throw new NegentropyMessageError('varint out of range')
    if ((byte & 0x80) === 0) return n
  }
}

function encodeVarInt(n: number): Uint8Array {
  const out = [n & 0x7f]
  for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) out.unshift((n & 0x7f) | 0x80)
  return new Uint8Array(out)
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
