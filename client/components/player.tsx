import { useEffect, useRef, useState } from 'preact/hooks'
import type Hls from 'hls.js'
import { HLS_CONFIG, WAITING_RETRY_MS } from './player-config.ts'

/**
 * The video player. hls.js (light build) is loaded on first use as its own chunk, and used
 * whenever Media Source Extensions exist; native HLS (Safari on iOS) only otherwise. The
 * effect owns the hls instance and destroys it when the source changes or the page closes.
 */
export interface PlayerProps {
  src: string | undefined
  /** Shown instead of video (planned, waiting, ended); undefined while there is something to play. */
  message?: string | undefined
  poster?: string | undefined
  muted?: boolean
  testId?: string
  onPlaying?: () => void
}

interface Level {
  index: number
  label: string
}

export function Player(props: PlayerProps) {
  const video = useRef<HTMLVideoElement>(null)
  const hlsRef = useRef<Hls | undefined>(undefined)
  const [levels, setLevels] = useState<Level[]>([])
  const [level, setLevel] = useState(-1)
  const [waiting, setWaiting] = useState(false)
  const [needsTap, setNeedsTap] = useState(false)
  const [failure, setFailure] = useState<string | undefined>(undefined)

  useEffect(() => {
    const el = video.current
    const src = props.src
    if (!el || !src || props.message) return
    let disposed = false
    let retry: ReturnType<typeof setTimeout> | undefined
    setLevels([])
    setWaiting(false)
    setFailure(undefined)
    const tryPlay = (): void => {
      el.play().then(
        () => setNeedsTap(false),
        (err: unknown) => {
          if (err instanceof DOMException && err.name === 'NotAllowedError') setNeedsTap(true)
        },
      )
    }
    const onPlaying = (): void => {
      setWaiting(false)
      setNeedsTap(false)
      props.onPlaying?.()
    }
    el.addEventListener('playing', onPlaying)

    const hasMse = 'MediaSource' in window || 'ManagedMediaSource' in window
    if (hasMse) {
      void import('./hls-light.ts').then(({ default: HlsClass }) => {
        if (disposed) return
        if (!HlsClass.isSupported()) return native()
        const hls = new HlsClass(HLS_CONFIG)
        hlsRef.current = hls
        hls.on(HlsClass.Events.MANIFEST_PARSED, (_e, data) => {
          setWaiting(false)
          setLevels(
            data.levels
              .map((l, index) => ({ index, label: l.height ? `${l.height}p` : l.bitrate ? `${Math.round(l.bitrate / 1000)} kbps` : `Level ${index + 1}` }))
              .sort((a, b) => parseInt(b.label) - parseInt(a.label)),
          )
          tryPlay()
        })
        hls.on(HlsClass.Events.ERROR, (_e, data) => {
          if (!data.fatal) return
          if (data.type === HlsClass.ErrorTypes.NETWORK_ERROR) {
            // No playlist yet (OBS not connected) or a blip: wait for the signal and ask again.
            setWaiting(true)
            retry = setTimeout(() => {
              if (disposed) return
              hls.loadSource(src)
              hls.startLoad()
            }, WAITING_RETRY_MS)
          } else if (data.type === HlsClass.ErrorTypes.MEDIA_ERROR) {
            hls.recoverMediaError()
          } else {
            setFailure(`Playback failed (${data.details}). Reload to try again.`)
            hls.destroy()
          }
        })
        hls.loadSource(src)
        hls.attachMedia(el)
      }, (err: unknown) => setFailure(`The player could not load: ${err instanceof Error ? err.message : String(err)}`))
    } else native()

    function native(): void {
      if (!el || !src) return
      if (!el.canPlayType('application/vnd.apple.mpegurl')) {
        setFailure('This browser cannot play live video (no HLS or Media Source support).')
        return
      }
      el.src = src
      tryPlay()
    }

    return () => {
      disposed = true
      clearTimeout(retry)
      el.removeEventListener('playing', onPlaying)
      hlsRef.current?.destroy()
      hlsRef.current = undefined
      el.removeAttribute('src')
      el.load()
    }
  }, [props.src, props.message])

  const message = props.message ?? failure ?? (waiting ? 'Waiting for signal…' : undefined)
  return (
    <div class="player">
      <video
        ref={video}
        data-testid={props.testId ?? 'player-video'}
        class={message ? 'hidden-video' : ''}
        controls
        playsInline
        autoPlay
        muted={props.muted ?? false}
        poster={props.poster}
        aria-label="Live video"
      />
      {message && (
        <div class="player-state" data-testid="player-state" role="status">
          {props.poster && <img class="player-poster" src={props.poster} alt="" referrerpolicy="no-referrer" />}
          <p>{message}</p>
        </div>
      )}
      {needsTap && !message && (
        <button
          class="tap-to-play"
          type="button"
          data-testid="player-tap-to-play"
          onClick={() => {
            void video.current?.play().then(() => setNeedsTap(false), () => undefined)
          }}
        >
          ▶ Tap to play
        </button>
      )}
      {levels.length > 0 && !message && (
        <label class="quality">
          <span class="sr-only">Quality</span>
          <select
            data-testid="quality-menu"
            value={String(level)}
            onChange={(e) => {
              const v = Number(e.currentTarget.value)
              setLevel(v)
              if (hlsRef.current) hlsRef.current.nextLevel = v
            }}
          >
            <option value="-1">Auto</option>
            {levels.map((l) => (
              <option key={l.index} value={String(l.index)}>{l.label}</option>
            ))}
          </select>
        </label>
      )}
    </div>
  )
}
