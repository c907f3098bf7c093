import { useState } from 'preact/hooks'
import type { GoLive } from '../state/go-live.ts'
import { getRecommendedBitrate } from '../state/go-live.ts'

/** What to type into OBS: server, key (hidden until revealed), and encoder settings. */
export function ObsCard({ model }: { model: GoLive }) {
  const [shown, setShown] = useState(false)
  const [copied, setCopied] = useState(false)
  const key = model.streamKey.value ?? ''
  const quality = model.form.value.quality
  const bitrate = getRecommendedBitrate(quality)
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(key)
      setCopied(true)
      setTimeout(() => setCopied(false), 2000)
    } catch {
      setShown(true) // clipboard blocked (insecure context): show it so it can be copied by hand
    }
  }
  return (
    <section class="panel" data-testid="obs-card" aria-labelledby="obs-title">
      <h2 id="obs-title">Stream from OBS</h2>
      <p class="muted small">Settings → Stream → Service: Custom. Paste these two values, then press Start Streaming.</p>
      <dl class="kv">
        <dt>Server</dt>
        <dd data-testid="obs-server">{model.ingestUrl.value ?? 'waiting for the transcoder…'}</dd>
        <dt>Stream key</dt>
        <dd class="row">
          <code data-testid="obs-key">{shown ? key : '•'.repeat(Math.min(24, key.length))}</code>
          <button class="btn small" type="button" data-testid="obs-key-reveal" aria-pressed={shown} onClick={() => setShown(!shown)}>
            {shown ? 'Hide' : 'Reveal'}
          </button>
          <button class="btn small" type="button" data-testid="obs-copy" onClick={() => void copy()}>{copied ? 'Copied' : 'Copy'}</button>
          <button
            class="btn small ghost"
            type="button"
            data-testid="obs-regenerate"
            title="The old key stops working: give OBS the new one"
            onClick={() => {
              setShown(false)
              void model.regenerateKey()
            }}
          >
            New key
          </button>
        </dd>
        <dt>Encoder</dt>
        <dd>
          {quality === 'audio'
            ? 'Audio: AAC, 48 kHz, 160 kbps (video is ignored)'
            : `H.264, keyframe interval 2 s, ${bitrate} kbps (CBR), ${quality.split(',')[0]}; audio AAC 48 kHz 160 kbps`}
        </dd>
      </dl>
      <p class="warn small">Keep the key secret: anyone with it can stream as you. Only its hash was published.</p>
    </section>
  )
}
