/**
 * Plain records on real links (REPL_SHIP_PLAIN_RECORDS, store/plain-record.ts):
 * three sites with file ledgers, real nats-servers joined by gateways, edge_1
 * reaching edge_2 only through the hub. A site's own entries cross as its log
 * holds them; the hub relays them decoded (they carry their route). At every
 * site each entry must read as the decoded path would give it: payload, every
 * property, origin and route, once each and in order; and the same with the
 * plain path switched off.
 */
import t from 'tap'
import { silentLogger } from '../../common/log.js'
import { connectNats, startReplicator, staticPlan, type LinkLimits, type LinkStats } from '../../replicator/index.js'
import type { LedgerEntry, MessageProps } from '../../store/index.js'
import { startNatsSupercluster } from '../helpers/services.js'
import { TEST_LINK_LIMITS } from '../helpers/network.js'
import { startTestGateway, type Teardownable, type TestGateway } from '../helpers/gateway.js'
import { waitFor } from '../helpers/wait.js'

const TOPIC = 'public/default/plain'
const SITES = ['edge_1', 'hub', 'edge_2']

/** Properties of every shape a publisher sets (none of them a route or an origin). */
function propsOf (i: number): MessageProps {
  switch (i % 5) {
    case 0: return {}
    case 1: return { priority: 9, key: `k${i}` }
    case 2: return { userProperties: [['z', '1'], ['a', '2'], ['z', '3']], contentType: 'application/json', payloadFormat: 1 }
    case 3: return { responseTopic: 'public/default/replies', correlationData: Buffer.from([i, 0, 255]), expiresAt: 4_000_000_000_000 }
    default: return { orderingKey: `o${i % 3}`, priority: 1, qos: 1 }
  }
}

async function site (t: Teardownable, id: string, natsUrl: string, limits: Partial<LinkLimits>): Promise<{ gw: TestGateway, stats: () => LinkStats[] }> {
  const gw = await startTestGateway(t, { siteId: id })
  const transport = await connectNats({ servers: natsUrl, network: 'plain', name: `ferry-${id}` })
  const plan = staticPlan({ 'public/default': SITES }, [{ pattern: 'edge_*', via: 'hub' }])
  const replicator = await startReplicator({ siteId: id, ledger: gw.gateway.ledger, transport, plan, logger: silentLogger, limits })
  t.teardown(async () => { await replicator.close(); await transport.close() })
  return { gw, stats: () => replicator.stats().links }
}

/** What a subscriber of the entry would be told, besides the site's own entry id. */
const seen = (e: LedgerEntry): unknown => ({ payload: e.payload.toString(), publishTime: e.publishTime, props: e.props })

for (const plain of [1, 0]) {
  t.test(`plain link - ${plain === 1 ? 'own entries cross as the log holds them' : 'with plain records off'}: every entry reads the same at every site`, async (t) => {
    const nats = await startNatsSupercluster(t, SITES)
    const limits: Partial<LinkLimits> = { ...TEST_LINK_LIMITS, REPL_BATCH_ENTRIES_MAX: 40, REPL_SHIP_PLAIN_RECORDS: plain }
    const sites = await Promise.all(SITES.map(async (id) => await site(t, id, (nats.regions[id] as { url: string }).url, limits)))
    const [e1, hub, e2] = sites as [Awaited<ReturnType<typeof site>>, Awaited<ReturnType<typeof site>>, Awaited<ReturnType<typeof site>>]
    const N = 150
    const published: Record<string, Array<{ payload: string, props: MessageProps }>> = { edge_1: [], hub: [], edge_2: [] }
    for (let i = 0; i < N; i++) {
      const at = SITES[i % 3] as string
      const gw = (sites[i % 3] as { gw: TestGateway }).gw
      const props = propsOf(i)
      published[at]?.push({ payload: `${at}-${i}`, props })
      await gw.gateway.dispatcher.publish({ topic: TOPIC, payload: Buffer.from(`${at}-${i}`), props })
    }
    const all = async (s: { gw: TestGateway }): Promise<LedgerEntry[]> => await s.gw.gateway.ledger.read(TOPIC, 0, { maxEntries: 1000 })
    for (const s of sites) await waitFor(async () => (await all(s)).length >= N, { timeoutMs: 60_000, what: 'every entry at every site' })
    for (const [i, s] of sites.entries()) {
      const here = SITES[i] as string
      const entries = await all(s)
      t.equal(entries.length, N, `${here}: each entry once`)
      for (const origin of SITES) {
        const arrived = entries.filter((e) => (e.props.originSite ?? here) === origin)
        const want = published[origin] ?? []
        // Order holds per origin within a lane (priority 7 and up overtake: the link's high lane).
        for (const high of [false, true]) {
          const inLane = (p: MessageProps): boolean => ((p.priority ?? 4) >= 7) === high
          t.same(arrived.filter((e) => inLane(e.props)).map((e) => e.payload.toString()), want.filter((w) => inLane(w.props)).map((w) => w.payload), `${here}: ${origin}'s ${high ? 'high' : 'normal'} lane entries in ${origin}'s order`)
        }
        const fromOrigin = origin === here ? arrived : [...arrived].sort((x, y) => (x.props.originEntryId as number) - (y.props.originEntryId as number))
        // The origin's own entries (entry ids from 0, in publish order) are what the others must read.
        const originEntries = (await all(sites[SITES.indexOf(origin)] as { gw: TestGateway })).filter((e) => e.props.originSite === undefined)
        if (origin === here) {
          t.same(fromOrigin.map((e) => e.props), want.map((w) => w.props), `${here}: its own entries keep the publisher's props`)
          continue
        }
        const path = origin === 'hub' || here === 'hub' ? [origin] : [origin, 'hub']
        t.same(fromOrigin.map(seen), originEntries.map((e) => ({ ...(seen(e) as object), props: { ...e.props, originSite: origin, originEntryId: e.entryId, replicatedVia: path, replicatedLsn: (fromOrigin.find((f) => f.props.originEntryId === e.entryId)?.props.replicatedLsn) } })),
          `${here}: ${origin}'s entries with every property, the origin, and the route ${path.join(' -> ')}`)
      }
    }
    const link = (s: { stats: () => LinkStats[] }, to: string): LinkStats => s.stats().find((l) => l.site === to) as LinkStats
    if (plain === 1) {
      t.equal(link(e1, 'hub').plainEntriesSent >= published.edge_1?.length, true, 'edge_1 sent its own entries plain')
      t.equal(link(e2, 'hub').plainEntriesSent >= published.edge_2?.length, true, 'edge_2 too')
      t.ok(link(hub, 'edge_2').plainEntriesSent >= (published.hub?.length ?? 0) && link(hub, 'edge_2').entriesShipped > link(hub, 'edge_2').plainEntriesSent,
        'the hub sent its own plain and relayed edge_1\'s decoded')
    } else {
      for (const s of sites) for (const l of s.stats()) t.equal(l.plainEntriesSent, 0, 'nothing plain when off')
    }
  })
}
