import t from 'tap'
import { connect } from 'node:net'
import { startTestGateway } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'

const gw = await startTestGateway(t)

/** Send raw bytes, collect whatever comes back until the server closes or `settleMs` of quiet... bounded by a hard cap. */
async function raw (bytes: string | Buffer): Promise<string> {
  return await new Promise<string>((resolve) => {
    const s = connect(gw.ports.http, '127.0.0.1')
    let got = ''
    const done = (): void => { s.destroy(); resolve(got) }
    s.on('data', (c) => {
      got += c.toString('latin1')
      // One full reply is enough; the test only needs to know the server answered or hung up.
      if (/\r\n\r\n/.test(got) && /content-length: (\d+)/i.test(got)) {
        const len = Number(/content-length: (\d+)/i.exec(got)?.[1])
        if (got.length >= got.indexOf('\r\n\r\n') + 4 + len) done()
      }
    })
    s.on('error', done)
    s.on('close', done)
    s.end(bytes)
  })
}

t.test('http robustness - malformed requests never crash the gateway, which keeps serving others', async (t) => {
  const path = `${topicPath('public/default/robust')}/messages`
  const inputs: Array<string | Buffer> = [
    'GARBAGE\r\n\r\n',
    Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 13, 10, 13, 10]),
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nhello`,
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort`,
    `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot hex\r\n`,
    `POST ${path} HTTP/1.1\r\nHost: x\r\nFerry-Priority: \u00ff\u00fe\r\nContent-Length: 1\r\n\r\nx`,
    `GET /v1/topics/%%%/x/subscriptions/s/messages HTTP/1.1\r\nHost: x\r\n\r\n`,
    `GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    `POST ${path} HTTP/1.1\r\nHost: x\r\n${'X-Filler: y\r\n'.repeat(2000)}\r\n`,
    `PUT /v1/admin/namespaces/acme/robust HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{"a":[[[`
  ]
  for (const input of inputs) {
    await raw(input)
    const ok = await httpRequest(gw.urls.http, 'GET', '/healthz')
    t.equal(ok.status, 200, `still serving after ${JSON.stringify(input.toString().slice(0, 40))}`)
  }
  const pub = await httpRequest(gw.urls.http, 'POST', path, { body: 'after the storm' })
  t.equal(pub.status, 201)
})

t.test('http robustness - a bad request on a keep-alive connection gets a JSON error and the connection still works', async (t) => {
  const path = `${topicPath('public/default/keepalive')}/messages`
  const two = `POST ${path} HTTP/1.1\r\nHost: x\r\nFerry-Priority: 99\r\nContent-Length: 3\r\n\r\nbad` +
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\ngood`
  const replies = await new Promise<string>((resolve) => {
    const s = connect(gw.ports.http, '127.0.0.1')
    let got = ''
    s.on('data', (c) => {
      got += c.toString()
      if ((got.match(/HTTP\/1\.1 /g) ?? []).length >= 2 && got.trimEnd().endsWith('}')) { s.destroy(); resolve(got) }
    })
    s.on('close', () => { resolve(got) })
    s.write(two)
  })
  t.match(replies, /HTTP\/1\.1 400[^]*E_BAD_REQUEST[^]*HTTP\/1\.1 201/, 'a 400 then a 201 on the same connection')
})
