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
  t.equal(new Set(ports).size, ports.length, 'no port handed out twice')
  const port = ports[0] as number
  const s = net.createServer()
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(port, '127.0.0.1', resolve) })
  t.pass(`port ${port} binds`)
  s.close()
})

t.test('free-port - one process never gets the same port twice before binding it', async (t) => {
  // Picks are released for the caller, so without a record of them two of ~400 picks out of ~22,000 ports coincide
  // 97 times in 100 (the birthday bound); ferry dev's 14 picks once did.
  const PICKS = 400
  const ports: number[] = []
  for (let i = 0; i < PICKS; i++) ports.push(await freePort())
  t.equal(new Set(ports).size, PICKS, `${PICKS} picks, ${PICKS} distinct ports`)
})
