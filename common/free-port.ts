/**
 * A free TCP port on loopback for a server started right after (tests,
 * `ferry dev`, the peer benchmarks).
 *
 * Why not `listen(0)`: the kernel hands out port 0 from its ephemeral range
 * (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default), the same
 * range every outgoing connection's local port comes from. Between "bound
 * then released" and the server's own bind, a NATS client, an etcd watch or
 * a gateway link could take the port as its local end, and the server then
 * fails with EADDRINUSE (seen: a `ferry dev` site exiting at start). Ports
 * below the ephemeral range are never given to outgoing connections, so a
 * port picked there stays free unless another server takes it.
 */
import { readFileSync } from 'node:fs'
import net from 'node:net'

/** Lowest port handed out (above the well-known and registered ports most daemons use). */
const FREE_PORT_MIN = 10_000
/** Random tries before giving up (each a bind on loopback). */
const FREE_PORT_TRIES_MAX = 200

function ephemeralLow (): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (low !== undefined && Number.isInteger(low) && low > FREE_PORT_MIN + 1000) return low
  } catch { /* not Linux: fall through */ }
  return 32_768
}

const PORT_MAX_EXCLUSIVE = ephemeralLow()

async function tryListen (port: number, host: string): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => { resolve(false) })
    s.listen({ port, host, exclusive: true }, () => { s.close(() => { resolve(true) }) })
  })
}

export async function freePort (host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < FREE_PORT_TRIES_MAX; i++) {
    const port = FREE_PORT_MIN + Math.floor(Math.random() * (PORT_MAX_EXCLUSIVE - FREE_PORT_MIN))
    if (await tryListen(port, host)) return port
  }
  // A crowded low range: fall back to the kernel's choice.
  return await new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => { resolve(port) })
    })
  })
}
