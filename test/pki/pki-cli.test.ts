import t from 'tap'
import { within } from '../helpers/wait.js'
import { readFile } from 'node:fs/promises'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { tokenVerifierOf, pkiLayout } from '../../pki/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { cliArgs } from '../helpers/cli-build.js'
import { ferry as runFerry } from '../helpers/ferry-cli.js'

/** The gateway's exit after SIGTERM/SIGINT (x3 stretch): a stuck close names itself before tap's 240 s timeout. */
const GATEWAY_EXIT_MS_MAX = 20_000

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The CLI with extra environment (test/helpers/ferry-cli.ts). */
async function ferry (args: string[], env: Record<string, string> = {}): Promise<{ code: number, out: string, err: string }> {
  return await runFerry(args, { env })
}

t.test('pki cli - init, site, client, token (plain and --json), revoke, list: the output contract', async (t) => {
  const tmp = await tmpDir('ferry-pki-cli-')
  t.teardown(tmp.cleanup)
  const dir = join(tmp.dir, 'pki')

  const missing = await ferry(['pki', 'list', '--dir', dir])
  t.equal(missing.code, 1)
  t.match(missing.err, /^ferry: PKI directory .* does not exist: run `ferry pki init --dir .*` first\n$/)

  const init = await ferry(['pki', 'init', '--dir', dir], { FERRY_PKI_PASSPHRASE: 's3cret' })
  t.equal(init.code, 0, init.err)
  t.match(init.out, /^ca .*ca\.pem serial=[0-9a-f]+ expires=/)

  const [site, badSite, wrongPass, client, token, tokenJson] = await Promise.all([
    ferry(['pki', 'site', 'eu1', '--dir', dir, '--host', 'gw.example.com', '--ip', '127.0.0.1', '--passphrase', 's3cret']),
    ferry(['pki', 'site', 'eu-1', '--dir', dir, '--passphrase', 's3cret']),
    ferry(['pki', 'client', 'acme/dev1', '--dir', dir, '--passphrase', 'nope']),
    ferry(['pki', 'client', 'acme/dev2', '--dir', dir], { FERRY_PKI_PASSPHRASE: 's3cret' }),
    ferry(['pki', 'token', '--dir', dir, '--tenant', 'acme', '--ns', 'orders,billing', '--actions', 'produce,consume', '--ttl', '30d']),
    ferry(['pki', 'token', '--dir', dir, '--tenant', 'acme', '--ns', 'orders', '--actions', 'produce', '--ttl', '1h', '--topics', 'eu/#', '--json'])
  ])
  t.equal(site.code, 0, site.err)
  t.match(site.out, /^site eu1 .*sites\/eu1\.pem serial=/)
  t.equal(badSite.code, 1)
  t.match(badSite.err, /invalid site name 'eu-1'/)
  t.equal(wrongPass.code, 1)
  t.match(wrongPass.err, /wrong passphrase/)
  t.equal(client.code, 0, client.err)

  // token: the token alone on stdout.
  t.equal(token.code, 0, token.err)
  t.match(token.out, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/)
  const verifier = tokenVerifierOf(await readFile(pkiLayout(dir).tokenVerifyKey, 'utf8'))
  t.same(verifier.verify(token.out.trim()).namespaces, ['orders', 'billing'])
  // --json: one line {"id","token","tenant","expiresAt"}.
  t.equal(tokenJson.out.trim().split('\n').length, 1)
  const j = JSON.parse(tokenJson.out) as Record<string, string>
  t.same(Object.keys(j), ['id', 'token', 'tenant', 'expiresAt'])
  t.equal(j.tenant, 'acme')
  t.equal(verifier.verify(j.token as string).id, j.id)
  t.ok(Date.parse(j.expiresAt as string) > Date.now())

  const rev = await ferry(['pki', 'revoke', '--dir', dir, j.id as string])
  t.equal(rev.code, 0, rev.err)
  t.match(rev.out, /^revoked token tok_/)
  const list = await ferry(['pki', 'list', '--dir', dir, '--json'])
  const entries = JSON.parse(list.out) as Array<{ kind: string, id: string, revoked: boolean }>
  // Issued concurrently by six commands: none lost (issued.json is updated under the dir lock).
  t.same(entries.map((e) => e.kind).sort(), ['ca', 'client', 'site', 'token', 'token'])
  t.equal(entries.find((e) => e.id === j.id)?.revoked, true)
  t.equal(entries.filter((e) => e.revoked).length, 1)
})

t.test('pki cli - production start: ferry gateway --site NAME --pki DIR --data DIR --mqtts --https serves TLS with credentials required', async (t) => {
  const tmp = await tmpDir('ferry-pki-prod-')
  t.teardown(tmp.cleanup)
  const dir = join(tmp.dir, 'pki')
  t.equal((await ferry(['pki', 'init', '--dir', dir])).code, 0)
  t.equal((await ferry(['pki', 'site', 'eu1', '--dir', dir])).code, 0)
  const plain = await ferry(['gateway', '--site', 'eu1', '--pki', dir, '--data', join(tmp.dir, 'data'), '--mqtt', '0'])
  t.equal(plain.code, 1, 'plain listeners need --dev')
  t.match(plain.err, /dev mode only/)

  const { spawn } = await import('node:child_process')
  const { writeFile } = await import('node:fs/promises')
  const site = join(tmp.dir, 'site.json')
  await writeFile(site, JSON.stringify({ namespaces: { 'acme/orders': {} }, cors: { origins: ['https://app.example'] } }))
  const gw = spawn(process.execPath, cliArgs(['gateway', '--site', 'eu1', '--pki', dir, '--data', join(tmp.dir, 'data'), '--mqtts', '0', '--https', '0', '--config', site]),
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_LOG_LEVEL: 'warn' } })
  t.teardown(() => { if (gw.exitCode === null) gw.kill('SIGKILL') })
  let out = ''
  gw.stdout.on('data', (c: Buffer) => { out += c.toString() })
  const { waitFor } = await import('../helpers/wait.js')
  const ready = await waitFor(() => /^ferry ready .*$/m.exec(out)?.[0], { timeoutMs: 60_000, what: 'ready line' })
  const https = Number(/ https=(\d+)/.exec(ready)?.[1])
  t.notMatch(ready, / http=| mqtt=/, 'TLS listeners only')
  const { httpRequest, topicPath } = await import('../helpers/http.js')
  const ca = await readFile(pkiLayout(dir).caCert, 'utf8')
  const tok = (await ferry(['pki', 'token', '--dir', dir, '--tenant', 'acme', '--ns', 'orders', '--actions', 'produce', '--ttl', '1h'])).out.trim()
  const anon = await httpRequest(`https://127.0.0.1:${https}`, 'POST', `${topicPath('acme/orders/x')}/messages`, { body: 'x', ca })
  t.equal(anon.status, 401)
  const withToken = await httpRequest(`https://127.0.0.1:${https}`, 'POST', `${topicPath('acme/orders/x')}/messages`, { body: 'x', ca, headers: { authorization: `Bearer ${tok}`, origin: 'https://app.example' } })
  t.equal(withToken.status, 201, 'a token publishes')
  t.equal(withToken.headers['access-control-allow-origin'], 'https://app.example', 'CORS from the config file')
  gw.kill('SIGTERM')
  const [code] = await within(once(gw, 'exit'), GATEWAY_EXIT_MS_MAX, 'the gateway exits after SIGTERM') as [number | null]
  t.equal(code, 0)
})
