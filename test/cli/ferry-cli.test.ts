import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor, within } from '../helpers/wait.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { spawnFerry as ferry } from '../helpers/ferry-cli.js'

/** The gateway's exit after SIGTERM/SIGINT (x3 stretch): a stuck close names itself before tap's 240 s timeout. */
const GATEWAY_EXIT_MS_MAX = 20_000

// Each case starts Node processes (each loads the whole CLI); a loaded 2-core machine makes that slow.
t.setTimeout(300_000)

t.test('cli - ferry gateway --dev prints a ready line, serves HTTP, pub/sub work, SIGTERM exits cleanly', async (t) => {
  const tmp = await tmpDir('ferry-cli-')
  t.teardown(tmp.cleanup)
  const gw = ferry(['gateway', '--dev', '--site', 'clitest', '--data', tmp.dir, '--mqtt', '0', '--http', '0', '--https', '0'])
  t.teardown(() => { if (gw.child.exitCode === null) gw.child.kill('SIGKILL') })
  const ready = await waitFor(() => /^ferry ready .*$/m.exec(gw.out())?.[0], { timeoutMs: 90_000, what: `ready line (stderr: ${gw.err()})` })
  t.match(ready, /site=clitest/)
  const http = Number(/ http=(\d+)/.exec(ready)?.[1])
  const https = Number(/ https=(\d+)/.exec(ready)?.[1])
  const mqtt = Number(/ mqtt=(\d+)/.exec(ready)?.[1])
  t.ok(http > 0 && https > 0 && mqtt > 0, 'every listener has a port')
  const base = `http://127.0.0.1:${http}`

  const pub = await httpRequest(base, 'POST', `${topicPath('public/default/cli/a')}/messages`, { body: 'from http' })
  t.equal(pub.status, 201)

  // Both clients at once (each is a Node start-up): over HTTP and over MQTT.
  const cliPub = ferry(['pub', '-t', 'cli/a', '-m', 'from ferry pub', '--url', base, '--key', 'k1', '--property', 'who=cli'])
  const mqttPub = ferry(['pub', '-t', 'cli/a', '-m', 'from mqtt', '--url', `mqtt://127.0.0.1:${mqtt}`, '--qos', '1'])
  t.equal(await cliPub.exit, 0, `ferry pub exits 0 (stderr: ${cliPub.err()})`)
  t.match(cliPub.out(), /^published topic=cli\/a messageId=\d+$/m, 'local topic name, as over MQTT')
  t.equal(await mqttPub.exit, 0, `ferry pub over MQTT exits 0 (stderr: ${mqttPub.err()})`)

  const sub = ferry(['sub', '-t', 'cli/a', '--count', '3', '--url', base, '--subscription', 'cli-sub'])
  t.equal(await sub.exit, 0, `ferry sub exits 0 after --count (stderr: ${sub.err()})`)
  t.same(sub.out().trim().split('\n').sort(), [
    'cli/a from ferry pub',
    'cli/a from http',
    'cli/a from mqtt'
  ])

  const pull = await httpRequest(base, 'GET', `${topicPath('public/default/cli/a')}/subscriptions/cli-sub/messages?waitMs=0`)
  t.same(pull.json, { messages: [] }, 'ferry sub acked what it printed')

  gw.child.kill('SIGTERM')
  t.equal(await within(gw.exit, GATEWAY_EXIT_MS_MAX, 'the gateway exits after SIGTERM'), 0, 'clean exit on SIGTERM')
  t.match(gw.out(), /ferry stopped/)
})

t.test('cli - bad arguments exit 1 with a message', async (t) => {
  const noData = ferry(['gateway', '--dev', '--http', '0'])
  const badPort = ferry(['gateway', '--dev', '--data', '/tmp/x', '--http', 'eighty'])
  const plainOutsideDev = ferry(['gateway', '--data', '/tmp/x', '--site', 's1', '--http', '0'])
  t.equal(await noData.exit, 1)
  t.match(noData.err(), /--data/)
  t.equal(await badPort.exit, 1)
  t.match(badPort.err(), /port/)
  t.equal(await plainOutsideDev.exit, 1)
  t.match(plainOutsideDev.err(), /dev mode only/)
})

t.test('cli - --config supplies site, listeners and namespaces; SIGINT exits cleanly', async (t) => {
  const tmp = await tmpDir('ferry-cli-cfg-')
  t.teardown(tmp.cleanup)
  const config = join(tmp.dir, 'site.json')
  await writeFile(config, JSON.stringify({
    siteId: 'cfgsite', dev: true, dataDir: 'data', listeners: { http: 0 },
    namespaces: { 'acme/cfg': { maxMessageBytes: 10 } }, httpLimits: { pullWaitMsMax: 1000 }
  }))
  const gw = ferry(['gateway', '--config', config])
  t.teardown(() => { if (gw.child.exitCode === null) gw.child.kill('SIGKILL') })
  const ready = await waitFor(() => /^ferry ready .*$/m.exec(gw.out())?.[0], { timeoutMs: 90_000, what: `ready line (stderr: ${gw.err()})` })
  t.match(ready, /site=cfgsite http=\d+ data=.*data$/)
  const base = `http://127.0.0.1:${Number(/ http=(\d+)/.exec(ready)?.[1])}`
  const ns = await httpRequest(base, 'GET', '/v1/admin/namespaces/acme/cfg')
  t.equal(ns.json.policy.maxMessageBytes, 10, 'namespace from the config file')
  const tooLong = await httpRequest(base, 'GET', `${topicPath('acme/cfg/t')}/subscriptions/s/messages?waitMs=5000`)
  t.equal(tooLong.status, 400, 'httpLimits from the config file apply')
  gw.child.kill('SIGINT')
  t.equal(await within(gw.exit, GATEWAY_EXIT_MS_MAX, 'the gateway exits after SIGINT'), 0)
})
