import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { npubEncode } from 'nostr-tools/nip19'
import { createKeySigner, generateSecretKey, getPublicKey } from '../protocol/keys.ts'
import type { Signer } from '../protocol/types.ts'

/**
 * The DVM's own key: it signs 6311 results, 7000 feedback, 31990 and 31337. Generated on first
 * start under the data directory with mode 0600 and never logged: callers get a signer, the
 * pubkey and its npub, never the secret. (A twin of relay/service-key.ts: apps do not import
 * each other.)
 */
export interface ServiceKey {
  pubkey: string
  npub: string
  sign: Signer
}

export const SERVICE_KEY_FILE = 'dvm-service.key'

export class ServiceKeyError extends Error {
  override readonly name = 'ServiceKeyError'
}

export async function loadServiceKey(dataDir: string): Promise<ServiceKey> {
  const path = join(dataDir, SERVICE_KEY_FILE)
  await mkdir(dataDir, { recursive: true })
  let hex: string
  try {
    // 'wx' fails if the file exists, so two processes starting at once never overwrite a key.
    hex = bytesToHex(generateSecretKey())
    await writeFile(path, `${hex}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    hex = (await readFile(path, 'utf8')).trim()
    if (((await stat(path)).mode & 0o077) !== 0) await chmod(path, 0o600)
  }
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new ServiceKeyError(`${path} does not hold a 64-character hex secret key`)
  const secret = hexToBytes(hex)
  const pubkey = getPublicKey(secret)
  return { pubkey, npub: npubEncode(pubkey), sign: createKeySigner(secret) }
}
