/**
 * A bare WebSocket echo server on 127.0.0.1 (any free port), run as its own process by the relay
 * bench: the ceiling for "frames in, frames out" on this machine with the same ws library.
 */
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))
})
wss.on('listening', () => console.log(`echo: listening on ws://127.0.0.1:${(wss.address() as AddressInfo).port}`))
process.once('SIGTERM', () => wss.close(() => process.exit(0)))
