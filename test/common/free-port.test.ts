/**
 * freePort hands out loopback ports below the kernel's ephemeral range, so an
 * outgoing connection's local port can never take one between the pick and
 * the server's bind (common/free-port.ts).
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { freePort } from '../../common/free-port.js'

t.test('free-port - ports are below the ephemeral range, distinct enough, and bindable', async (t) => {
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
  const ports = await Promise.all(Array.from({ length: 20 }, async () => await freePort()))
  for (const p of ports) t.ok(p >= 10_000 && p < (low as number), `port ${p} is below the ephemeral range (${low})`)
  t.ok(new Set(ports).size >= 18, 'random picks, not one port over and over')
  const port = ports[0] as number
  const s = net.createServer()
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(port, '127.0.0.1', resolve) })
  t.pass(`port ${port} binds`)
  s.close()
})
