import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadSiteConfig, parseSiteConfig } from '../../gateway/config.js'
import { tmpDir } from '../helpers/tmp.js'

t.test('site config - a full file is read, relative paths resolve against its folder', async (t) => {
  const tmp = await tmpDir()
  t.teardown(tmp.cleanup)
  const file = join(tmp.dir, 'site.json')
  await writeFile(file, JSON.stringify({
    siteId: 'eu-1',
    dataDir: 'data',
    host: '127.0.0.1',
    listeners: { mqtts: 8883, https: 0 },
    tls: { certFile: 'certs/site.crt', keyFile: '/abs/site.key' },
    namespaces: { 'acme/orders': { maxRedeliveries: 5 } },
    mqttLimits: { maxPacketBytes: 1024 },
    httpLimits: { maxBodyBytes: 4096 }
  }))
  const c = await loadSiteConfig(file)
  t.equal(c.siteId, 'eu-1')
  t.equal(c.dataDir, join(tmp.dir, 'data'))
  t.same(c.listeners, { mqtts: 8883, https: 0 })
  t.same(c.tls, { certFile: join(tmp.dir, 'certs/site.crt'), keyFile: '/abs/site.key' })
  t.same(c.namespaces, { 'acme/orders': { maxRedeliveries: 5 } })
  t.same(c.httpLimits, { maxBodyBytes: 4096 })
})

t.test('site config - mistakes are E_CONFIG naming the field', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /file/],
    [{ sitId: 'x' }, /unknown field sitId/],
    [{ siteId: 'bad id' }, /siteId/],
    [{ listeners: { mqtt: 70000 } }, /listeners.mqtt/],
    [{ listeners: { amqp: 1 } }, /unknown field amqp/],
    [{ tls: { certFile: 'a' } }, /tls.keyFile/],
    [{ namespaces: { 'acme/orders': { maxRedeliveries: -5 } } }, /acme\/orders/],
    [{ namespaces: { acme: {} } }, /namespaces/],
    [{ httpLimits: { maxBodyBytes: 0 } }, /httpLimits.maxBodyBytes/],
    [{ httpLimits: { nope: 1 } }, /unknown field nope/],
    [{ dev: 'yes' }, /dev/]
  ]
  for (const [doc, msg] of bad) t.throws(() => parseSiteConfig(doc, '/'), { code: 'E_CONFIG', message: msg }, JSON.stringify(doc))
  const tmp = await tmpDir()
  t.teardown(tmp.cleanup)
  const file = join(tmp.dir, 'broken.json')
  await writeFile(file, '{ "siteId": ')
  await t.rejects(loadSiteConfig(file), { code: 'E_CONFIG', message: /not valid JSON/ })
  await t.rejects(loadSiteConfig(join(tmp.dir, 'missing.json')), { code: 'E_CONFIG', message: /cannot read/ })
})
