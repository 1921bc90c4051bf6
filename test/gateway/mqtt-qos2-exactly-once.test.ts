/**
 * Inbound QoS 2 is exactly once across reconnect, takeover and restart
 * (issue 7 item 5): a resent PUBLISH whose first copy is stored, or still
 * being stored, gets PUBREC and is never stored twice [MQTT-4.3.3-10]; after
 * PUBREL / PUBCOMP the id is new again [MQTT-4.3.3-12].
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IPublishPacket } from 'mqtt-packet'
import type { PublishRequest, PublishResult, PublishSink } from '../../gateway/dispatch/index.js'
import type { Ledger } from '../../store/index.js'
import { startTestGateway, rawConnect, type TestGateway } from '../helpers/gateway.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { builtScript } from '../helpers/cli-build.js'

const here = dirname(fileURLToPath(import.meta.url))
const session = { clean: false, properties: { sessionExpiryInterval: 3600 } }

function publishPacket (topic: string, id: number, payload: string, dup: boolean): IPublishPacket {
  return { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 2, messageId: id, retain: false, dup }
}

/** Entries stored on a topic (the store's own count, not a subscriber's view). */
async function storedCount (ledger: Ledger, topic: string): Promise<number> {
  return (await ledger.read(`public/default/${topic}`, 0, { maxEntries: 100 })).length
}

/**
 * Hold the results of publishes to `topic` until release(): their appends are done, the front end waits. Both
 * entries of the dispatcher are held (the guard above it may reach either: its publish is the promise over
 * publishTo), so the hold does not depend on which one a publish takes.
 */
function holdPublishes (gw: TestGateway, topic: string): { started: () => number, release: () => void } {
  const d = gw.gateway.dispatcher
  const orig = d.publish.bind(d)
  const origTo = d.publishTo.bind(d)
  const full = `public/default/${topic}`
  let started = 0
  let open: () => void = () => {}
  const gate = new Promise<void>((resolve) => { open = resolve })
  d.publish = async (req: PublishRequest): Promise<PublishResult> => {
    if (req.topic !== full) return await orig(req)
    started++
    const res = await orig(req)
    await gate
    return res
  }
  d.publishTo = (req: PublishRequest, sink: PublishSink): void => {
    if (req.topic !== full) { origTo(req, sink); return }
    started++
    origTo(req, { published (res) { void gate.then(() => { sink.published(res) }) }, failed (err) { sink.failed(err) } })
  }
  return { started: () => started, release: () => { open() } }
}

for (const how of ['reconnect', 'takeover'] as const) {
  t.test(`mqtt qos2 - resent on a ${how} while the first append is in flight: stored once`, async (t) => {
    const gw = await startTestGateway(t)
    const topic = `q2/${how}`
    const hold = holdPublishes(gw, topic)
    const a = await rawConnect(t, gw.ports.mqtt, 5, { clientId: `q2-${how}`, ...session })
    a.send(publishPacket(topic, 7, 'once', false))
    await waitFor(() => hold.started() === 1, { what: 'first append started' })
    if (how === 'reconnect') { a.socket.destroy(); await a.waitClosed() }
    const b = await rawConnect(t, gw.ports.mqtt, 5, { clientId: `q2-${how}`, ...session })
    if (how === 'takeover') t.equal((await a.next('disconnect')).reasonCode, 0x8e, 'first connection taken over')
    b.send(publishPacket(topic, 7, 'once', true))
    // Packets are handled in order: after PINGRESP the gateway has seen the resend, with the first append still held.
    b.send({ cmd: 'pingreq' })
    await b.next('pingresp')
    t.notOk(b.packets.some((p) => p.cmd === 'pubrec'), 'no PUBREC while the first append is in flight')
    hold.release()
    const rec = await b.next('pubrec')
    t.equal(rec.messageId, 7)
    t.equal(rec.reasonCode, 0, 'PUBREC for the resend')
    b.send({ cmd: 'pubrel', messageId: 7 })
    t.equal((await b.next('pubcomp')).reasonCode, 0)
    t.equal(await storedCount(gw.gateway.ledger, topic), 1, 'stored exactly once')
    t.equal(hold.started(), 1, 'the resend never reached the store')
  })
}

t.test('mqtt qos2 - resent after a gateway restart, before PUBREL: PUBREC again, stored once; the id is free after PUBCOMP', async (t) => {
  const gw = await startTestGateway(t)
  const topic = 'q2/restart'
  const a = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'q2-restart', ...session })
  a.send(publishPacket(topic, 9, 'first', false))
  await a.next('pubrec')
  await gw.restart()
  const b = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'q2-restart', ...session })
  b.send(publishPacket(topic, 9, 'first', true))
  t.equal((await b.next('pubrec')).reasonCode, 0)
  t.equal(await storedCount(gw.gateway.ledger, topic), 1, 'stored once')
  b.send({ cmd: 'pubrel', messageId: 9 })
  t.equal((await b.next('pubcomp')).reasonCode, 0, 'the id was known after the restart')
  t.equal(gw.gateway.ledger.getMeta('mqtt-qos2-in', 'q2-restart/9'), undefined, 'record gone with PUBREL')
  // After PUBCOMP the same id is a new message [MQTT-4.3.3-12].
  b.send(publishPacket(topic, 9, 'second', false))
  await waitFor(() => b.packets.filter((p) => p.cmd === 'pubrec').length === 2, { what: 'second PUBREC' })
  t.equal(await storedCount(gw.gateway.ledger, topic), 2, 'a new message after PUBCOMP')
})

t.test('mqtt qos2 - gateway SIGKILLed after the append, before PUBREC: the resend is stored once', async (t) => {
  const tmp = await tmpDir('ferry-q2-crash-')
  t.teardown(async () => { await tmp.cleanup() })
  const ledgerDir = join(tmp.dir, 'ledger')
  const child = spawn(process.execPath, [builtScript(join(here, 'mqtt-qos2-crash-child.ts')), ledgerDir], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  const exited = new Promise<NodeJS.Signals | null>((resolve) => { child.on('exit', (_code, signal) => { resolve(signal) }) })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const port = await waitFor(() => /PORT (\d+)/.exec(out)?.[1], { timeoutMs: 30_000, what: 'child gateway listening' })
  const a = await rawConnect(t, Number(port), 5, { clientId: 'q2-crash', ...session })
  a.send(publishPacket('q2/crash', 3, 'exactly-once', false))
  t.equal(await exited, 'SIGKILL', 'killed after the append')
  t.notOk(a.packets.some((p) => p.cmd === 'pubrec'), 'no PUBREC went out')

  const gw = await startTestGateway(t, { dataDir: tmp.dir })
  t.equal(await storedCount(gw.gateway.ledger, 'q2/crash'), 1, 'the acknowledged append survived')
  const b = await rawConnect(t, gw.ports.mqtt, 5, { clientId: 'q2-crash', ...session })
  t.equal((b.packets[0] as { sessionPresent?: boolean }).sessionPresent, true)
  b.send(publishPacket('q2/crash', 3, 'exactly-once', true))
  t.equal((await b.next('pubrec')).reasonCode, 0)
  b.send({ cmd: 'pubrel', messageId: 3 })
  t.equal((await b.next('pubcomp')).reasonCode, 0)
  t.equal(await storedCount(gw.gateway.ledger, 'q2/crash'), 1, 'stored exactly once')
})
