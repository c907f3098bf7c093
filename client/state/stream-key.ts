import { hashStreamKey } from '../../protocol/job.ts'

/**
 * The stream key, made in the browser with Web Crypto's CSPRNG. Same shape as protocol's
 * generateStreamKey: 32 characters of [A-Za-z0-9_-] (what node-media-server accepts in a stream
 * name), 192 random bits; 64 divides 256, so every character is uniform. Only its hash leaves
 * the browser (in the 5311 job); the key itself goes into OBS.
 */
const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
export const STREAM_KEY_LENGTH = 32

export function createStreamKey(random: (bytes: Uint8Array<ArrayBuffer>) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  let key = ''
  for (const byte of random(new Uint8Array(STREAM_KEY_LENGTH))) key += KEY_ALPHABET[byte & 63]
  return key
}

/**
 * hex(sha256(utf-8 key)), as ingest computes it. Web Crypto's digest when the page is a secure
 * context (https or localhost); protocol's sha256 otherwise (a LAN address over plain http).
 */
export async function hashKey(key: string): Promise<string> {
  const subtle = globalThis.crypto?.subtle
  if (!subtle) return hashStreamKey(key)
  const digest = new Uint8Array(await subtle.digest('SHA-256', new TextEncoder().encode(key)))
  let hex = ''
  for (const b of digest) hex += b.toString(16).padStart(2, '0')
  return hex
}
