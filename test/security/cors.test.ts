import t from 'tap'
import http from 'node:http'
import { chromium } from 'playwright-core'
import { httpRequest, topicPath } from '../helpers/http.js'
import { startTestGateway } from '../helpers/gateway.js'
import { startSecureGateway, token } from './helpers.js'

const PUBLISH = `${topicPath('public/default/web')}/messages`

t.test('security cors - dev mode: any origin; preflight answered before routing, without touching the ledger', async (t) => {
  const gw = await startTestGateway(t)
  const lsn = gw.gateway.ledger.lastLsn()
  const pre = await httpRequest(gw.urls.http, 'OPTIONS', `${topicPath('nobody/nothing/x')}/messages`, {
    headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'ferry-key, authorization, content-type' }
  })
  t.equal(pre.status, 204, 'a path of a namespace that does not exist: still 204 (no lookup)')
  t.equal(pre.headers['access-control-allow-origin'], 'http://app.example')
  t.match(pre.headers['access-control-allow-headers'], /ferry-key/)
  t.match(pre.headers['access-control-allow-headers'], /authorization/)
  t.match(pre.headers['access-control-allow-methods'], /POST/)
  t.equal(gw.gateway.ledger.lastLsn(), lsn, 'the ledger saw nothing')
  const r = await httpRequest(gw.urls.http, 'POST', PUBLISH, { headers: { origin: 'http://app.example' }, body: 'x' })
  t.equal(r.status, 201)
  t.equal(r.headers['access-control-allow-origin'], 'http://app.example')
  t.equal(r.headers.vary, 'Origin')
  const noOrigin = await httpRequest(gw.urls.http, 'POST', PUBLISH, { body: 'x' })
  t.equal(noOrigin.headers['access-control-allow-origin'], undefined, 'no Origin, no CORS headers')
})

t.test('security cors - production: configured origins only; others get no CORS headers (credentials never exposed)', async (t) => {
  const gw = await startSecureGateway(t, { security: { cors: { origins: ['https://app.example'] } } })
  const tok = await token(gw)
  const path = `${topicPath('acme/orders/web')}/messages`
  const good = await httpRequest(gw.urls.https, 'OPTIONS', path, { headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' }, ca: gw.caPem })
  t.equal(good.status, 204)
  t.equal(good.headers['access-control-allow-origin'], 'https://app.example')
  t.equal(good.headers['access-control-allow-credentials'], 'true')
  const evil = await httpRequest(gw.urls.https, 'OPTIONS', path, { headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' }, ca: gw.caPem })
  t.equal(evil.status, 403)
  t.equal(evil.headers['access-control-allow-origin'], undefined)
  const evilPost = await httpRequest(gw.urls.https, 'POST', path, { headers: { origin: 'https://evil.example', authorization: `Bearer ${tok.token}` }, body: 'x', ca: gw.caPem })
  t.equal(evilPost.headers['access-control-allow-origin'], undefined, 'a browser would withhold this reply from evil.example')
  t.equal(evilPost.headers['access-control-allow-credentials'], undefined)
  const goodPost = await httpRequest(gw.urls.https, 'POST', path, { headers: { origin: 'https://app.example', authorization: `Bearer ${tok.token}` }, body: 'x', ca: gw.caPem })
  t.equal(goodPost.status, 201)
  t.equal(goodPost.headers['access-control-allow-origin'], 'https://app.example')
  const unauth = await httpRequest(gw.urls.https, 'POST', path, { headers: { origin: 'https://app.example' }, body: 'x', ca: gw.caPem })
  t.equal(unauth.status, 401)
  t.equal(unauth.headers['access-control-allow-origin'], 'https://app.example', 'the app can read the 401')
  t.match(unauth.headers['access-control-expose-headers'], /www-authenticate/)
})

t.test('security cors - a real browser publishes and pulls cross-origin with fetch (dev mode)', async (t) => {
  const gw = await startTestGateway(t)
  const page = `<!doctype html><script>
    window.run = async (base) => {
      const pub = await fetch(base + '${PUBLISH}', { method: 'POST', headers: { 'Ferry-Key': 'k1', 'Content-Type': 'text/plain' }, body: 'from the browser' })
      const pull = await fetch(base + '${topicPath('public/default/web')}/subscriptions/web/messages?waitMs=10000&max=1&position=earliest')
      return { pub: pub.status, pull: await pull.json() }
    }
  </script>`
  const app = http.createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }).end(page) })
  await new Promise<void>((resolve) => { app.listen(0, '127.0.0.1', () => { resolve() }) })
  t.teardown(() => { app.close() })
  const appPort = (app.address() as { port: number }).port
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] })
  t.teardown(async () => { await browser.close() })
  const tab = await browser.newPage()
  // The app is served from localhost, the gateway is 127.0.0.1: two origins.
  await tab.goto(`http://localhost:${appPort}/`)
  const got = await tab.evaluate(async (base) => await (window as unknown as { run: (b: string) => Promise<unknown> }).run(base), gw.urls.http) as { pub: number, pull: { messages: Array<{ payload: string, key?: string }> } }
  t.equal(got.pub, 201, 'cross-origin publish with a Ferry-* header (preflighted)')
  t.same(got.pull.messages.map((m) => m.payload), ['from the browser'], 'cross-origin pull reads it back')
})
