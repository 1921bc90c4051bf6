/**
 * `ferry site` (a network site process) with a real PKI, etcd and nats-server:
 * SIGHUP rotates the site certificate without killing the process, and a
 * revocation written to etcd by `ferry pki revoke --etcd` reaches it.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { X509Certificate } from 'node:crypto'
import { copyFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { issueSiteCert, issueToken, loadCa, pkiLayout, siteCertFiles } from '../../pki/index.js'
import { ensureTestPki } from '../helpers/gateway.js'
import { httpRequest, topicPath } from '../helpers/http.js'
import { startEtcd, startNatsSupercluster } from '../helpers/services.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor, within } from '../helpers/wait.js'
import { ROOT as root, ferry } from '../helpers/ferry-cli.js'
import { serialOf } from './helpers.js'
import { cliArgs } from '../helpers/cli-build.js'

/** The gateway's exit after SIGTERM/SIGINT (x3 stretch): a stuck close names itself before tap's 240 s timeout. */
const GATEWAY_EXIT_MS_MAX = 20_000

t.setTimeout(300_000)




t.test('security site cli - ferry site: SIGHUP rotates the certificate and keeps running; an etcd revocation reaches it', async (t) => {
  const tmp = await tmpDir('ferry-site-cli-')
  t.teardown(tmp.cleanup)
  const etcd = await startEtcd(t)
  const nats = await startNatsSupercluster(t, ['a'])
  const { pkiDir } = await ensureTestPki(join(tmp.dir, 'pki'), 'a')
  const ca = await readFile(pkiLayout(pkiDir).caCert, 'utf8')
  const site = spawn(process.execPath, cliArgs(['site', '--site', 'a', '--pki', pkiDir, '--data', join(tmp.dir, 'data'), '--https', '0', '--mqtts', '0',
    '--network', 'sc', '--etcd', etcd.url, '--nats', (nats.regions.a as { url: string }).url]), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_LOG_LEVEL: 'info' } })
  t.teardown(() => { if (site.exitCode === null) site.kill('SIGKILL') })
  let out = ''
  let err = ''
  site.stdout.on('data', (c: Buffer) => { out += c.toString() })
  site.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const ready = await waitFor(() => /^ferry ready .*$/m.exec(out)?.[0], { timeoutMs: 60_000, what: 'ready line' }).catch((e: Error) => { throw new Error(`${e.message}; stderr: ${err.slice(-2000)}`) })
  const https = Number(/ https=(\d+)/.exec(ready)?.[1])
  const old = await serialOf(https, ca)

  const fresh = await issueSiteCert(await loadCa(pkiDir), 'a_next')
  const target = siteCertFiles(pkiLayout(pkiDir), 'a')
  await copyFile(fresh.keyFile, target.keyFile)
  await copyFile(fresh.certFile, target.certFile)
  site.kill('SIGHUP')
  const next = new X509Certificate(await readFile(fresh.certFile)).serialNumber.toLowerCase()
  await waitFor(async () => (await serialOf(https, ca)) === next, { what: 'the new certificate served', timeoutMs: 20_000 })
  t.not(next, old)
  await waitFor(() => /SIGHUP: PKI dir and site certificate reloaded/.test(err), { what: 'SIGHUP handled' })
  t.equal(site.exitCode, null, 'SIGHUP did not end the process')

  const tok = await issueToken(pkiDir, { tenant: 'acme', namespaces: ['orders'], actions: ['produce'], ttlSec: 3600 })
  const post = async (): Promise<number> => (await httpRequest(`https://127.0.0.1:${https}`, 'POST', `${topicPath('acme/orders/x')}/messages`, { body: 'x', ca, headers: { authorization: `Bearer ${tok.token}` } })).status
  t.not(await post(), 401, 'the token is accepted before the revocation')
  const r = await ferry(['pki', 'revoke', '--dir', pkiDir, tok.claims.id, '--etcd', etcd.url, '--network', 'sc'])
  t.equal(r.code, 0, r.err)
  await waitFor(async () => (await post()) === 401, { what: 'the revoked token refused', timeoutMs: 20_000 })

  site.kill('SIGTERM')
  const [code] = await within(once(site, 'exit'), GATEWAY_EXIT_MS_MAX, 'the site exits after SIGTERM') as [number | null]
  t.equal(code, 0)
})
