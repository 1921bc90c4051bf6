import t from 'tap'
import { staticPlan } from '../../replicator/index.js'
import { connectMqtt, collect, type ReceivedMessage } from '../helpers/gateway.js'
import { startNatsSupercluster } from '../helpers/services.js'
import { startTestSite, type TestSite } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'

const SITES = ['a', 'b', 'c']
const N = 30

function payloadsOf (got: ReceivedMessage[]): string[] {
  return got.map((m) => m.payload.toString())
}

t.test('replicator - publishes at each site reach persistent subscribers at the others, with their properties, in order', async (t) => {
  const nats = await startNatsSupercluster(t, SITES)
  const plan = staticPlan({ 'public/default': SITES })
  const sites: Record<string, TestSite> = {}
  for (const id of SITES) sites[id] = await startTestSite(t, id, (nats.regions[id] as { url: string }).url, 'test', plan)

  const subs: Record<string, ReceivedMessage[]> = {}
  for (const id of SITES) {
    const s = sites[id] as TestSite
    const c = await connectMqtt(t, s.gw, s.gw.urls.mqtt, { protocolVersion: 5, clientId: `sub-${id}`, clean: false, properties: { sessionExpiryInterval: 3600 } })
    await c.subscribeAsync('rep/#', { qos: 1 })
    subs[id] = collect(c)
  }
  for (const id of SITES) {
    const s = sites[id] as TestSite
    const p = await connectMqtt(t, s.gw, s.gw.urls.mqtt, { protocolVersion: 5, clientId: `pub-${id}` })
    for (let i = 0; i < N; i++) {
      await p.publishAsync(`rep/${id}`, `${id}-${i}`, { qos: 1, properties: { userProperties: { z: `${i}`, a: 'x' }, contentType: 'text/plain' } })
    }
  }
  for (const id of SITES) {
    const got = subs[id] as ReceivedMessage[]
    await waitFor(() => got.length >= N * SITES.length, { timeoutMs: 60_000, what: `site ${id} receives every site's messages (has ${got.length})` })
  }
  // Give duplicates a chance to show up before counting.
  await new Promise((resolve) => setTimeout(resolve, 500))
  for (const id of SITES) {
    const got = subs[id] as ReceivedMessage[]
    t.equal(got.length, N * SITES.length, `site ${id}: nothing twice`)
    for (const from of SITES) {
      const mine = payloadsOf(got.filter((m) => m.topic === `rep/${from}`))
      t.same(mine, Array.from({ length: N }, (_, i) => `${from}-${i}`), `site ${id} has ${from}'s messages once each, in order`)
    }
    const remote = got.find((m) => m.topic === `rep/${SITES.find((s) => s !== id) as string}`)
    t.match(remote?.packet.properties?.userProperties, { z: '0', a: 'x' }, 'user properties travel')
    t.equal(remote?.packet.properties?.contentType, 'text/plain', 'MQTT 5 properties travel')
  }
  const st = (sites.a as TestSite).replicator.stats()
  t.equal(st.links.length, 2, 'a has a link to each other site')
  for (const l of st.links) {
    await waitFor(() => (sites.a as TestSite).replicator.stats().links.find((x) => x.site === l.site)?.lagEntries === 0, { what: 'lag drains' })
  }
  t.ok(st.received.entriesApplied >= 2 * N, 'a applied the others\' entries')
})

t.test('replicator - a retained message published at one site is seen by a new MQTT subscriber at another', async (t) => {
  const nats = await startNatsSupercluster(t, ['a', 'b'])
  const plan = staticPlan({ 'public/default': ['a', 'b'] })
  const a = await startTestSite(t, 'a', (nats.regions.a as { url: string }).url, 'test', plan)
  const b = await startTestSite(t, 'b', (nats.regions.b as { url: string }).url, 'test', plan)
  const pa = await connectMqtt(t, a.gw, a.gw.urls.mqtt, { clientId: 'pa' })
  await pa.publishAsync('state/door', 'open', { qos: 1, retain: true })
  await waitFor(() => b.gw.gateway.ledger.getMeta('retained', 'public/default/state/door') !== undefined, { timeoutMs: 30_000, what: 'retained value reaches b' })
  const sb = await connectMqtt(t, b.gw, b.gw.urls.mqtt, { clientId: 'sb' })
  const got = collect(sb)
  await sb.subscribeAsync('state/#', { qos: 1 })
  await waitFor(() => got.length > 0, { what: 'retained message delivered at b' })
  t.equal(got[0]?.payload.toString(), 'open')
  t.equal(got[0]?.packet.retain, true, 'delivered as retained')
})
