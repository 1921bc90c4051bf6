/**
 * The network root CA: `ferry pki init` makes it (and the token signing
 * keys); every other PKI operation loads it. Errors name the fix: a missing
 * directory, a wrong passphrase, an expired CA.
 */
import { generateKeyPairSync } from 'node:crypto'
import { chmod, mkdir } from 'node:fs/promises'
import forge from 'node-forge'
import { CA_VALID_DAYS } from './constants.js'
import { PkiCode, pkiError } from './errors.js'
import { exists, readText, requirePkiDir, writeNew } from './files.js'
import { pkiLayout, type PkiLayout } from './layout.js'
import { IssuedKind, recordIssued } from './registry.js'
import { exportPrivateKey, keyPairOfPem, newCertificate, newRsaKeyPair, signWith, type KeyPair } from './x509.js'
import { ensureAtRestKeys } from './at-rest-keys.js'

export interface Ca {
  layout: PkiLayout
  cert: forge.pki.Certificate
  certPem: string
  key: KeyPair
}

export interface InitResult { layout: PkiLayout, serial: string, expiresAt: Date }

/** Make a new PKI directory: root CA, token signing keys, at-rest key. Refuses a directory that has a CA. */
export async function initPki (dir: string, opts: { passphrase?: string, name?: string } = {}): Promise<InitResult> {
  const l = pkiLayout(dir)
  if (await exists(l.caCert) || await exists(l.caKey)) {
    throw pkiError(PkiCode.EXISTS, `${dir} already holds a CA (${l.caCert}): use it, or pick an empty directory`)
  }
  if (opts.passphrase !== undefined && opts.passphrase.length === 0) throw pkiError(PkiCode.PASSPHRASE, 'the passphrase must not be empty')
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await chmod(dir, 0o700)

  const key = newRsaKeyPair()
  const subject = [{ name: 'commonName', value: opts.name ?? 'Ferry network root CA' }, { name: 'organizationName', value: 'Ferry' }]
  const cert = newCertificate(key.publicKey, subject, CA_VALID_DAYS)
  cert.setIssuer(subject)
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' }
  ])
  signWith(cert, key.privateKey)

  const signing = generateKeyPairSync('ed25519')
  await writeNew(l.caKey, exportPrivateKey(key, opts.passphrase), 0o600)
  await writeNew(l.caCert, forge.pki.certificateToPem(cert))
  await writeNew(l.tokenSigningKey, signing.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600)
  await writeNew(l.tokenVerifyKey, signing.publicKey.export({ type: 'spki', format: 'pem' }).toString())
  await ensureAtRestKeys(l)
  await recordIssued(l, {
    kind: IssuedKind.ca, id: cert.serialNumber, name: 'root CA', issuedAt: new Date().toISOString(), expiresAt: cert.validity.notAfter.toISOString()
  })
  return { layout: l, serial: cert.serialNumber, expiresAt: cert.validity.notAfter }
}

export async function loadCaCert (dir: string): Promise<{ layout: PkiLayout, cert: forge.pki.Certificate, certPem: string }> {
  const l = pkiLayout(dir)
  await requirePkiDir(dir, l.caCert)
  const certPem = await readText(l.caCert)
  let cert: forge.pki.Certificate
  try { cert = forge.pki.certificateFromPem(certPem) } catch (err) {
    throw pkiError(PkiCode.FILE_INVALID, `${l.caCert} is not a PEM certificate: ${(err as Error).message}`, err)
  }
  return { layout: l, cert, certPem }
}

/** Load the CA with its key, for issuing. Refuses an expired CA. */
export async function loadCa (dir: string, passphrase?: string, nowMs = Date.now()): Promise<Ca> {
  const { layout: l, cert, certPem } = await loadCaCert(dir)
  if (cert.validity.notAfter.getTime() <= nowMs) {
    throw pkiError(PkiCode.EXPIRED, `the CA in ${dir} expired on ${cert.validity.notAfter.toISOString()}: make a new PKI directory (ferry pki init) and re-issue site and client certificates`)
  }
  const keyPem = await readText(l.caKey)
  const encrypted = keyPem.includes('ENCRYPTED')
  if (encrypted && passphrase === undefined) {
    throw pkiError(PkiCode.PASSPHRASE, `the CA key ${l.caKey} is encrypted: give --passphrase (or FERRY_PKI_PASSPHRASE)`)
  }
  let key: KeyPair
  try {
    key = keyPairOfPem(keyPem, encrypted ? passphrase : undefined)
  } catch (err) {
    if (encrypted) throw pkiError(PkiCode.PASSPHRASE, `wrong passphrase for the CA key ${l.caKey}`, err)
    throw pkiError(PkiCode.FILE_INVALID, `${l.caKey} is not a private key: ${(err as Error).message}`, err)
  }
  return { layout: l, cert, certPem, key }
}
