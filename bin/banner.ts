/** What `relaycast start` prints once everything listens: where things are and what to do next. */
export interface BannerInput {
  /** Where the web app is served; undefined with --no-app. */
  appUrl: string | undefined
  relayUrl: string
  rtmpUrl: string
  hlsUrl: string
  relayNpub: string
  transcoderNpub: string
  dataDir: string
  /** Listeners bound to loopback only. */
  loopback: boolean
}

export function formatBanner(b: BannerInput): string {
  const rows: Array<[string, string]> = [
    ['App', b.appUrl ?? '(not served: --no-app)'],
    ['Relay', b.relayUrl],
    ['OBS server', `${b.rtmpUrl}   (stream key: from the app's Go live page)`],
    ['HLS', b.hlsUrl],
    ['Relay npub', b.relayNpub],
    ['Transcoder', b.transcoderNpub],
    ['Data', b.dataDir],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  const next = b.appUrl
    ? `Next: open ${b.appUrl} , sign in, choose Go live, then put the server and key into OBS (Settings → Stream → Custom) and start streaming.`
    : 'Next: point a NIP-53 client at the relay and publish a 5311 job to the transcoder.'
  return [
    `Relaycast is running${b.loopback ? ' on this machine only (--public to accept others)' : ''}.`,
    '',
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    '',
    next,
    'Ctrl-C stops everything.',
  ].join('\n')
}
