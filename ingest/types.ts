import type { Rejection } from '../protocol/reasons.ts'

/**
 * The narrow interface between ingest and the DVM: the DVM says which publishes are admitted
 * (from key hashes it holds in memory) and hears when media starts and stops. Nothing here
 * mentions node-media-server.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** Structured log sink. Fields must never carry a stream key; log a session id instead. */
export type Log = (level: LogLevel, message: string, fields?: Record<string, string | number | boolean | undefined>) => void

/** A publish that an active job admits. */
export interface Admission {
  jobId: string
}

/** What the publisher announced in its RTMP metadata, when it sent any (OBS and ffmpeg do). */
export interface AnnouncedMedia {
  width?: number
  height?: number
  fps?: number
  /** FLV codec id (7 = H.264, 12 = HEVC) or an enhanced-RTMP FourCC number. */
  videoCodecId?: number
  /** FLV sound format (10 = AAC). */
  audioCodecId?: number
  audioSampleRate?: number
  audioChannels?: number
}

export interface PublishSession {
  /** Ingest's session id: safe to log. */
  readonly id: string
  readonly jobId: string
  /** Publisher address (ip:port). */
  readonly remoteAddress: string
  /** Epoch ms when the publish was admitted. */
  readonly startedAt: number
  /**
   * rtmp://<local>/<app>/<key> to pull this publish from. SECRET: it contains the stream key.
   * Not enumerable, so it stays out of JSON.stringify and util.inspect; never log it.
   */
  readonly pullUrl: string
  /** Bytes received from the publisher so far (for the input bitrate). */
  bytesIn(): number
  /** The publisher's onMetaData, once received. */
  announcedMedia(): AnnouncedMedia | undefined
  /** Drop the publisher's connection (job revoked, stream stopped). */
  disconnect(): void
}

export type UnpublishReason = 'disconnected' | 'kicked' | 'shutdown'

export interface IngestHooks {
  /**
   * Called synchronously while the publish is being set up, with the stream name OBS sent (the
   * stream key). Decide from memory; return the job or a rejection. Never log the argument.
   */
  authorize(streamName: string): Admission | Rejection
  /** Called once for each admitted publish when its connection is gone (releases the claim). */
  release?(jobId: string): void
  /** Media is flowing for an admitted publish. */
  onPublish(session: PublishSession): void
  /** The publisher's connection closed; called promptly (not after the library's 30 s grace). */
  onUnpublish(session: PublishSession, reason: UnpublishReason): void
}

export interface Ingest {
  /** The bound RTMP port (useful when configured as 0). */
  readonly port: number
  /** Live publishes by job id. */
  readonly sessions: ReadonlyMap<string, PublishSession>
  /** Drop the publisher of a job, if any. Returns whether one was connected. */
  disconnect(jobId: string): boolean
  /** Stop listening, drop every connection, flush the library's store. */
  close(): Promise<void>
}
