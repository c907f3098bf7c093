import { timingSafeEqual } from 'node:crypto'
import { hashStreamKey } from '../protocol/job.ts'
import { blocked, invalid } from '../protocol/reasons.ts'
import type { Rejection } from '../protocol/reasons.ts'
import type { Admission } from './types.ts'

/**
 * Which stream keys may publish: the DVM puts the key hash of each active job and removes it when
 * the job ends, is replaced or is revoked. Only hashes are held; the key OBS presents is hashed
 * and compared against every active hash in constant time.
 */

export interface ActiveJob {
  jobId: string
  /** hex(sha256(stream key)), 64 lowercase hex characters, as in the job's key_hash param. */
  keyHash: string
}

export interface KeyRegistry {
  /** Adds or replaces (key rotation) a job. A rejection for a malformed hash. */
  put(job: ActiveJob): Rejection | undefined
  /** Forgets a job; its key stops working for new publishes. Returns whether it was there. */
  remove(jobId: string): boolean
  has(jobId: string): boolean
  /**
   * Admits a publish for the job whose key hash matches, and claims the job until `release`:
   * a second concurrent publish for the same job is refused. Synchronous, for ingest's hook.
   */
  authorize(streamKey: string): Admission | Rejection
  /** The job's publish has ended: it may publish again. */
  release(jobId: string): void
  isPublishing(jobId: string): boolean
  readonly size: number
}

const HEX64 = /^[0-9a-f]{64}$/

export const UNKNOWN_KEY = blocked('unknown stream key')
export const ALREADY_PUBLISHING = blocked('this stream is already being published from another connection')

/** First 8 hex characters of the key's hash: enough to match a refusal to a job, useless to an attacker. */
export function keyFingerprint(streamKey: string): string {
  return hashStreamKey(streamKey).slice(0, 8)
}

export function createKeyRegistry(): KeyRegistry {
  // Insertion order matters: when two jobs share a hash, the newest put wins.
  const jobs = new Map<string, Buffer>()
  const publishing = new Set<string>()

  return {
    put({ jobId, keyHash }) {
      if (!HEX64.test(keyHash)) return invalid('key_hash must be 64 lowercase hex characters')
      jobs.delete(jobId)
      jobs.set(jobId, Buffer.from(keyHash, 'hex'))
      return undefined
    },
    remove(jobId) {
      publishing.delete(jobId)
      return jobs.delete(jobId)
    },
    has: (jobId) => jobs.has(jobId),
    authorize(streamKey) {
      const presented = Buffer.from(hashStreamKey(streamKey), 'hex')
      let match: string | undefined
      // No early exit: the time taken does not depend on which job (if any) matched.
      for (const [jobId, hash] of jobs) {
        if (timingSafeEqual(presented, hash)) match = jobId
      }
      if (match === undefined) return UNKNOWN_KEY
      if (publishing.has(match)) return ALREADY_PUBLISHING
      publishing.add(match)
      return { jobId: match }
    },
    release(jobId) {
      publishing.delete(jobId)
    },
    isPublishing: (jobId) => publishing.has(jobId),
    get size() {
      return jobs.size
    },
  }
}
