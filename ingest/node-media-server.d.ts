// The small part of node-media-server 4.4.3 (CommonJS, no types of its own) that ingest/server.ts uses.

declare module 'node-media-server' {
  import type { Socket } from 'node:net'

  export interface NmsConfig {
    bind?: string
    rtmp?: { port?: number }
    http?: { port?: number }
    record?: { auto?: boolean; path?: string }
    store?: { path?: string; flushInterval?: number }
    webadmin?: { enable?: boolean }
    auth?: { play?: boolean; publish?: boolean; secret?: string }
    notify?: { url?: string }
  }

  /** A connection as the library sees it; fields filled in as the RTMP handshake progresses. */
  export interface NmsSession {
    id: string
    /** "address:port" of the peer. */
    ip: string
    protocol: string
    isPublisher: boolean
    streamApp: string
    streamName: string
    streamPath: string
    inBytes: number
    videoCodec: number
    videoWidth: number
    videoHeight: number
    videoFramerate: number
    audioCodec: number
    audioChannels: number
    audioSamplerate: number
    /** RTMP sessions only. */
    socket?: Socket
  }

  export type NmsEvent =
    | 'prePublish'
    | 'postPublish'
    | 'donePublish'
    | 'prePlay'
    | 'postPlay'
    | 'donePlay'
    | 'postRecord'
    | 'doneRecord'

  export default class NodeMediaServer {
    constructor(config: NmsConfig, configPath?: string)
    /** Listeners are called synchronously; their return value is ignored. */
    on(event: NmsEvent, listener: (session: NmsSession) => void): void
    run(): Promise<void>
    stop(): Promise<void>
    rtmpServer: {
      /** Takes over an accepted TCP connection as an RTMP session. */
      handleRequest(socket: Socket): void
    }
    historyServer: {
      stop(): void
    }
    /** Its JSON store; `options.signals` (read when run() opens it) adds SIGINT/SIGTERM handlers. */
    store: { options: { signals: boolean } }
  }
}

declare module 'node-media-server/src/core/logger.js' {
  const logger: {
    level: string
    log(message: string, level?: string): void
  }
  export default logger
}

declare module 'node-media-server/src/core/context.js' {
  import type { EventEmitter } from 'node:events'
  const context: { eventEmitter: EventEmitter }
  export default context
}
