import t from 'tap'
import { SimDisk } from '../../store/index.js'
import { startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

// The ledger runs on the store's simulated disk so the test can take the free space away and give it back.
t.test('http - full disk answers 507 E_DISK_FULL, keeps what was acknowledged, and recovers when space returns', async (t) => {
  const disk = new SimDisk(7)
  const gw = await startTestGateway(t, { disk })
  const topic = 'public/default/disk-full'
  const publish = async (body: string): Promise<{ status: number, json: unknown }> =>
    await httpRequest(gw.urls.http, 'POST', `${topicPath(topic)}/messages`, { body, headers: { 'content-type': 'text/plain' } })

  const first = await publish('before')
  t.equal(first.status, 201, 'publish works while there is space')

  disk.setFreeBytes(0)
  const refused = await publish('no room')
  t.equal(refused.status, 507, 'full disk is 507')
  t.match(refused.json, { error: { code: 'E_DISK_FULL' } })

  // Still no space: every attempt is refused cleanly (fenced or full), never a 2xx or a crash.
  const again = await publish('still no room')
  t.ok(again.status === 507 || again.status === 503, `refused while full (${again.status})`)

  disk.setFreeBytes(1024 * 1024 * 1024)
  const ok = await waitFor(async () => {
    const r = await publish('after')
    return r.status === 201 ? r : undefined
  }, { what: 'publish accepted again once space returned' })
  t.equal(ok.status, 201)

  const pulled = await httpRequest(gw.urls.http, 'GET', `${topicPath(topic)}/subscriptions/reader/messages?max=10&waitMs=2000&mode=exclusive`)
  t.equal(pulled.status, 200)
  const payloads = (pulled.json as { messages: Array<{ payload?: string }> }).messages.map((m) => m.payload)
  t.same(payloads, ['before', 'after'], 'the acknowledged messages are there, the refused ones are not')
})
