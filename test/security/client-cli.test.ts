import t from 'tap'
import { issueClientCert, loadCa, pkiLayout } from '../../pki/index.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { startSecureGateway, storedTopics, token } from './helpers.js'
import { spawnFerry as ferry } from '../helpers/ferry-cli.js'

// Each case starts a Node process (each loads the whole CLI); a loaded 2-core machine makes that slow.
t.setTimeout(300_000)

t.test('security client cli - ferry pub/sub with --token, --ca and --cert against a production gateway (TLS only, credentials required)', async (t) => {
  const gw = await startSecureGateway(t)
  const ca = pkiLayout(gw.pkiDir).caCert
  const tok = (await token(gw)).token
  const device = await issueClientCert(await loadCa(gw.pkiDir), 'acme/cli-1')
  const https = gw.urls.https
  const mqtts = `mqtts://127.0.0.1:${gw.ports.mqtts}`
  const wss = `wss://127.0.0.1:${gw.ports.https}`

  const runs = {
    https: ferry(['pub', '-t', 'cli/https', '-m', 'h', '--url', https, '--namespace', 'acme/orders', '--token', tok, '--ca', ca]),
    httpsEnv: ferry(['pub', '-t', 'cli/env', '-m', 'e', '--url', https, '--namespace', 'acme/orders', '--ca', ca], { FERRY_TOKEN: tok }),
    mqtts: ferry(['pub', '-t', 'cli/mqtts', '-m', 'm', '--url', mqtts, '--token', tok, '--ca', ca]),
    wss: ferry(['pub', '-t', 'cli/wss', '-m', 'w', '--url', wss, '--namespace', 'acme/orders', '--token', tok, '--ca', ca]),
    cert: ferry(['pub', '-t', 'cli/cert', '-m', 'c', '--url', mqtts, '--namespace', 'acme/orders', '--cert', device.certFile, '--cert-key', device.keyFile, '--ca', ca])
  }
  for (const [name, r] of Object.entries(runs)) {
    t.equal(await r.exit, 0, `${name}: exits 0 (stderr: ${r.err()})`)
    t.match(r.out(), /^published topic=cli\//m, `${name}: published`)
  }
  t.same(storedTopics(gw), ['acme/orders/cli/cert', 'acme/orders/cli/env', 'acme/orders/cli/https', 'acme/orders/cli/mqtts', 'acme/orders/cli/wss'])

  // Refusals are clear and store nothing.
  const refused = {
    noTokenHttps: ferry(['pub', '-t', 'cli/no', '-m', 'x', '--url', https, '--namespace', 'acme/orders', '--ca', ca]),
    noTokenMqtts: ferry(['pub', '-t', 'cli/no', '-m', 'x', '--url', mqtts, '--ca', ca]),
    otherTenant: ferry(['pub', '-t', 'cli/no', '-m', 'x', '--url', https, '--namespace', 'globex/orders', '--token', tok, '--ca', ca]),
    noCa: ferry(['pub', '-t', 'cli/no', '-m', 'x', '--url', https, '--namespace', 'acme/orders', '--token', tok]),
    certOverHttps: ferry(['pub', '-t', 'cli/no', '-m', 'x', '--url', https, '--cert', device.certFile, '--cert-key', device.keyFile, '--ca', ca]),
    certWithoutKey: ferry(['pub', '-t', 'cli/no', '-m', 'x', '--url', mqtts, '--cert', device.certFile, '--ca', ca])
  }
  const expect: Record<keyof typeof refused, RegExp> = {
    noTokenHttps: /^ferry: 401: /m,
    noTokenMqtts: /^ferry: the gateway at .* refused the connection: .*\(reason code 0x87\)/m,
    otherTenant: /^ferry: 403: /m,
    noCa: /^ferry: cannot reach the gateway at https:\/\/127\.0\.0\.1:\d+: .*certificate/m,
    certOverHttps: /^ferry: --cert \(mutual TLS\) works with mqtts:\/\/ URLs only/m,
    certWithoutKey: /^ferry: --cert .* holds no private key: give it with --cert-key FILE/m
  }
  for (const [name, r] of Object.entries(refused)) {
    t.equal(await r.exit, 1, `${name}: exits 1`)
    t.match(r.err(), expect[name as keyof typeof refused], `${name}: the reason`)
  }
  t.notOk(storedTopics(gw).some((x) => x.endsWith('/cli/no')), 'nothing refused was stored')

  // ferry sub over HTTPS and over MQTT/TLS with a token: publish until each has printed one message and exited.
  const subs = {
    https: ferry(['sub', '-t', 'cli/sub', '--count', '1', '--url', https, '--namespace', 'acme/orders', '--subscription', 's1', '--token', tok, '--ca', ca]),
    mqtts: ferry(['sub', '-t', 'cli/sub', '--count', '1', '--url', mqtts, '--token', tok, '--ca', ca])
  }
  let done = 0
  for (const r of Object.values(subs)) void r.exit.then(() => { done++ })
  for (let i = 0; done < 2 && i < 600; i++) {
    const r = await httpRequest(https, 'POST', `${topicPath('acme/orders/cli/sub')}/messages`, { body: 'hello', ca: gw.caPem, headers: { authorization: `Bearer ${tok}` } })
    t.equal(r.status, 201)
    await new Promise((resolve) => setTimeout(resolve, 200)) // pacing of the publisher, not an assertion
  }
  for (const [name, r] of Object.entries(subs)) {
    t.equal(await r.exit, 0, `sub over ${name} exits 0 (stderr: ${r.err()})`)
    t.equal(r.out(), 'cli/sub hello\n', `sub over ${name} printed the message with its local topic`)
  }
})
