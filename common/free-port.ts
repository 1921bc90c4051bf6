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
 *
 * A pick is not held (the port is bound, then released for the caller), so
 * two picks of one process could return the same port before either server
 * binds it: `ferry dev` once gave site a's MQTT/TLS port to site b's HTTP
 * too, and site a exited with EADDRINUSE. A process never hands out a port
 * twice (the last FREE_PORT_REMEMBERED_MAX picks are remembered).
 */
import { readFileSync } from 'node:fs'
import net from 'node:net'

/** Lowest port handed out (above the well-known and registered ports most daemons use). */
const FREE_PORT_MIN = 10_000
/** Random tries before giving up (each a bind on loopback). */
const FREE_PORT_TRIES_MAX = 200
/** Picks remembered so as not to hand one out again (a process picks a few dozen; a benchmark a few hundred). */
const FREE_PORT_REMEMBERED_MAX = 4_096

const handedOut = new Set<number>()
function handOut (port: number): number {
  handedOut.add(port)
  if (handedOut.size > FREE_PORT_REMEMBERED_MAX) handedOut.delete(handedOut.values().next().value as number)
  return port
}

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
    if (handedOut.has(port)) continue
    if (await tryListen(port, host)) return handOut(port)
  }
  // A crowded low range: fall back to the kernel's choice.
  return await new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => { resolve(handOut(port)) })
    })
  })
}
