import t from 'tap'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { tokenVerifierOf, pkiLayout } from '../../pki/index.js'
import { tmpDir } from '../helpers/tmp.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const CLI = join(root, 'cli', 'ferry.ts')

async function ferry (args: string[], env: Record<string, string> = {}): Promise<{ code: number, out: string, err: string }> {
  return await new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, out, err })
    })
  })
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
