import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { createKeySigner, generateSecretKey, getPublicKey } from '../protocol/keys.ts'
import type { Signer } from '../protocol/types.ts'

/**
 * The relay's own key (NIP-11 `self`), which signs the relay's service events (31337).
 * Generated on first start under the data directory, readable by its owner only, never logged:
 * callers get a signer and the pubkey, not the secret.
 */
export interface ServiceKey {
  pubkey: string
  sign: Signer
}

export const SERVICE_KEY_FILE = 'relay-service.key'

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
    // Tighten a key someone copied in with looser permissions.
    if (((await stat(path)).mode & 0o077) !== 0) await chmod(path, 0o600)
  }
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new ServiceKeyError(`${path} does not hold a 64-character hex secret key`)
  const secret = hexToBytes(hex)
  return { pubkey: getPublicKey(secret), sign: createKeySigner(secret) }
}
