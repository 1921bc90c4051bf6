import t from 'tap'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import forge from 'node-forge'
import { createPublicKey } from 'node:crypto'
import { jwtVerify, SignJWT } from 'jose'
import {
  initPki, loadCa, issueSiteCert, issueClientCert, issueToken, tokenVerifierOf, revoke, listIssued, pkiLayout, parseTtl,
  checkSiteName, namespacePatternMatches, rotateAtRestKey, loadAtRestKeys, PkiCode, TokenInvalid
} from '../../pki/index.js'
import { tmpDir } from '../helpers/tmp.js'

/** The TokenInvalid reason a call throws with ('none' when it does not throw one). */
function reasonOf (fn: () => unknown): string {
  try { fn() } catch (e) { return e instanceof TokenInvalid ? e.reason : `other: ${String(e)}` }
  return 'none'
}

async function freshPki (t: { teardown: (fn: () => unknown) => void }, passphrase?: string): Promise<string> {
  const tmp = await tmpDir('ferry-pki-')
  t.teardown(tmp.cleanup)
  const dir = join(tmp.dir, 'pki')
  await initPki(dir, passphrase !== undefined ? { passphrase } : {})
  return dir
}

t.test('pki - init writes CA, keys (0600) and refuses a directory that has a CA', async (t) => {
  const dir = await freshPki(t)
  const l = pkiLayout(dir)
  for (const f of [l.caKey, l.tokenSigningKey, l.atRestKeys]) t.equal((await stat(f)).mode & 0o777, 0o600, `${f} is 0600`)
  const ca = forge.pki.certificateFromPem(await readFile(l.caCert, 'utf8'))
  t.ok(ca.verify(ca), 'self-signed root')
  await t.rejects(initPki(dir), { code: PkiCode.EXISTS })
})

t.test('pki - passphrase: missing and wrong are refused with what to do', async (t) => {
  const dir = await freshPki(t, 'correct horse')
  t.match(await readFile(pkiLayout(dir).caKey, 'utf8'), /ENCRYPTED PRIVATE KEY/)
  await t.rejects(loadCa(dir), { code: PkiCode.PASSPHRASE, message: /--passphrase/ })
  await t.rejects(loadCa(dir, 'wrong'), { code: PkiCode.PASSPHRASE, message: /wrong passphrase/ })
  const ca = await loadCa(dir, 'correct horse')
  t.ok(ca.key.privateKey)
})

t.test('pki - missing directory and expired CA name the fix', async (t) => {
  const tmp = await tmpDir('ferry-pki-')
  t.teardown(tmp.cleanup)
  await t.rejects(loadCa(join(tmp.dir, 'nope')), { code: PkiCode.DIR_MISSING, message: /ferry pki init/ })
  await t.rejects(issueToken(join(tmp.dir, 'nope'), { tenant: 'a', namespaces: ['b'], actions: ['produce'], ttlSec: 60 }), { code: PkiCode.DIR_MISSING })
  const dir = await freshPki(t)
  const elevenYears = Date.now() + 11 * 365 * 24 * 3600 * 1000
  await t.rejects(loadCa(dir, undefined, elevenYears), { code: PkiCode.EXPIRED, message: /expired on .*ferry pki init/ })
})

t.test('pki - site names follow node-name rules; a taken name is refused', async (t) => {
  for (const ok of ['eu1', 'EU_west_1', 'a', 'a2345678901234567890']) t.equal(checkSiteName(ok), ok)
  for (const bad of ['', '1eu', '_eu', 'eu-west', 'eu.west', 'a23456789012345678901', 'eu west', 'é']) {
    t.throws(() => checkSiteName(bad), { code: PkiCode.NAME_INVALID }, `'${bad}' refused`)
  }
  const dir = await freshPki(t)
  const ca = await loadCa(dir)
  const site = await issueSiteCert(ca, 'eu_west', { hosts: ['gw.example.com'], ips: ['10.1.2.3'] })
  await t.rejects(issueSiteCert(ca, 'eu_west'), { code: PkiCode.SITE_TAKEN, message: /taken/ })
  await t.rejects(issueSiteCert(ca, 'bad-name'), { code: PkiCode.NAME_INVALID })
  const cert = forge.pki.certificateFromPem(await readFile(site.certFile, 'utf8'))
  t.ok(ca.cert.verify(cert), 'signed by the CA')
  const san = cert.getExtension('subjectAltName') as { altNames: Array<{ type: number, value?: string, ip?: string }> }
  t.same(san.altNames.map((a) => a.ip ?? a.value), ['gw.example.com', '10.1.2.3', 'ferry-site:eu_west'])
  const eku = cert.getExtension('extKeyUsage') as { serverAuth?: boolean, clientAuth?: boolean }
  t.ok(eku.serverAuth === true && eku.clientAuth === true, 'server cert and link client cert')
  t.equal((await stat(site.keyFile)).mode & 0o777, 0o600)
})

t.test('pki - client certificate carries TENANT/ID in the subject', async (t) => {
  const dir = await freshPki(t)
  const ca = await loadCa(dir)
  const c = await issueClientCert(ca, 'acme/sensor-7')
  const cert = forge.pki.certificateFromPem(await readFile(c.certFile, 'utf8'))
  t.equal(cert.subject.getField('CN').value, 'acme/sensor-7')
  t.equal(cert.subject.getField('OU').value, 'ferry-client')
  await t.rejects(issueClientCert(ca, 'acme'), { code: PkiCode.NAME_INVALID })
  await t.rejects(issueClientCert(ca, 'acme/../x'), { code: PkiCode.NAME_INVALID })
})

t.test('pki - tokens: Ed25519 JWT with the claims, verified offline; standard tools read them', async (t) => {
  const dir = await freshPki(t)
  const l = pkiLayout(dir)
  const { token, claims } = await issueToken(dir, { tenant: 'acme', namespaces: ['orders', 'bill-*'], actions: ['produce', 'consume'], ttlSec: 3600, topics: ['eu/#'] })
  const pub = await readFile(l.tokenVerifyKey, 'utf8')
  const v = tokenVerifierOf(pub)
  const got = v.verify(token)
  t.same(got, claims)
  t.same({ tenant: got.tenant, namespaces: got.namespaces, actions: got.actions, topics: got.topics }, { tenant: 'acme', namespaces: ['orders', 'bill-*'], actions: ['produce', 'consume'], topics: ['eu/#'] })
  // jose reads it as a standard EdDSA JWT.
  const r = await jwtVerify(token, createPublicKey(pub), { issuer: 'ferry' })
  t.equal(r.protectedHeader.alg, 'EdDSA')
  t.equal(r.payload.jti, claims.id)
  t.equal(r.payload.tenant, 'acme')

  t.equal(reasonOf(() => v.verify(token, Date.now() + 2 * 3600 * 1000)), 'expired')
  t.equal(reasonOf(() => v.verify('not.a.jwt')), 'malformed')
  const [h, p] = token.split('.') as [string, string]
  const forgedPayload = Buffer.from(JSON.stringify({ ...r.payload, tenant: 'other' })).toString('base64url')
  t.equal(reasonOf(() => v.verify(`${h}.${forgedPayload}.${token.split('.')[2] as string}`)), 'signature')
  t.ok(p.length > 0)
  // Signed by another network: refused.
  const other = await freshPki(t)
  const foreign = (await issueToken(other, { tenant: 'acme', namespaces: ['orders'], actions: ['produce'], ttlSec: 60 })).token
  t.equal(reasonOf(() => v.verify(foreign)), 'signature')
  // alg none / HS256 tricks are not EdDSA.
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`
  t.not(reasonOf(() => v.verify(none)), 'none')
  const hs = await new SignJWT({ tenant: 'acme', namespaces: ['orders'], actions: ['admin'] }).setProtectedHeader({ alg: 'HS256' })
    .setIssuer('ferry').setJti('x').setExpirationTime('1h').sign(Buffer.from(pub))
  t.equal(reasonOf(() => v.verify(hs)), 'malformed')
})

t.test('pki - token requests are checked', async (t) => {
  const dir = await freshPki(t)
  const base = { tenant: 'acme', namespaces: ['orders'], actions: ['produce'], ttlSec: 60 }
  await t.rejects(issueToken(dir, { ...base, actions: ['write'] }), { code: PkiCode.NAME_INVALID, message: /unknown action/ })
  await t.rejects(issueToken(dir, { ...base, namespaces: [] }), { code: PkiCode.NAME_INVALID })
  await t.rejects(issueToken(dir, { ...base, namespaces: ['a/b'] }), { code: PkiCode.NAME_INVALID })
  await t.rejects(issueToken(dir, { ...base, tenant: 'a/b' }), { code: PkiCode.NAME_INVALID })
  await t.rejects(issueToken(dir, { ...base, topics: ['a/#/b'] }), { code: PkiCode.NAME_INVALID })
  t.equal(parseTtl('30d'), 30 * 86400)
  t.equal(parseTtl('90m'), 5400)
  t.equal(parseTtl('45'), 45)
  t.throws(() => parseTtl('soon'), { code: PkiCode.NAME_INVALID })
  t.throws(() => parseTtl('0s'), { code: PkiCode.NAME_INVALID })
})

t.test('pki - namespace patterns', async (t) => {
  t.ok(namespacePatternMatches('orders', 'orders'))
  t.notOk(namespacePatternMatches('orders', 'orders2'))
  t.ok(namespacePatternMatches('*', 'anything'))
  t.ok(namespacePatternMatches('bill-*', 'bill-eu'))
  t.notOk(namespacePatternMatches('bill-*', 'xbill-eu'))
  t.ok(namespacePatternMatches('*-eu', 'bill-eu'))
  t.ok(namespacePatternMatches('a*b*c', 'aXbYc'))
  t.notOk(namespacePatternMatches('a*b*c', 'aXcYb'))
})

t.test('pki - revoke and list: tokens and certificates, unknown ids refused, list says revoked/expired', async (t) => {
  const dir = await freshPki(t)
  const l = pkiLayout(dir)
  const ca = await loadCa(dir)
  const site = await issueSiteCert(ca, 'eu1')
  const { claims } = await issueToken(dir, { tenant: 'acme', namespaces: ['orders'], actions: ['produce'], ttlSec: 60 })
  await t.rejects(revoke(l, 'tok_doesnotexist'), { code: PkiCode.UNKNOWN_ID })
  t.equal((await revoke(l, claims.id)).already, false)
  t.equal((await revoke(l, claims.id)).already, true)
  t.equal((await revoke(l, site.serial.toUpperCase())).entry.kind, 'site', 'serials compare case-insensitively')
  const list = await listIssued(l)
  t.same(list.map((e) => [e.kind, e.revoked]), [['ca', false], ['site', true], ['token', true]])
  const later = await listIssued(l, Date.now() + 3600_000)
  t.equal(later.find((e) => e.kind === 'token')?.expired, true)
  // A damaged list is an actionable error, not an empty one.
  await writeFile(l.revoked, '{oops')
  await t.rejects(listIssued(l), { code: PkiCode.FILE_INVALID, message: /backup/ })
})

t.test('pki - at-rest keys rotate and keep old keys', async (t) => {
  const dir = await freshPki(t)
  const l = pkiLayout(dir)
  const k1 = await loadAtRestKeys(l)
  t.equal(k1?.current, 'k1')
  t.equal(await rotateAtRestKey(l), 'k2')
  const k2 = await loadAtRestKeys(l)
  t.equal(k2?.current, 'k2')
  t.same(k2?.keys.get('k1'), k1?.keys.get('k1'), 'old key kept')
})
