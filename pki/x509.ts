/**
 * X.509 building blocks: keys from node:crypto (native RSA, ~10 ms, where
 * node-forge's pure-JS generation takes about a second), certificates built
 * and signed with node-forge.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import forge from 'node-forge'
import { NOT_BEFORE_SKEW_MS, RSA_KEY_BITS } from './constants.js'

export interface KeyPair {
  /** Unencrypted PKCS#1 PEM (what forge and node:tls read). */
  privateKeyPem: string
  privateKey: forge.pki.rsa.PrivateKey
  publicKey: forge.pki.rsa.PublicKey
}

export function newRsaKeyPair (): KeyPair {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: RSA_KEY_BITS })
  return keyPairOfPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString())
}

export function keyPairOfPem (pem: string, passphrase?: string): KeyPair {
  const key = createPrivateKey(passphrase !== undefined ? { key: pem, passphrase } : { key: pem })
  const privateKeyPem = key.export({ type: 'pkcs1', format: 'pem' }).toString()
  const priv = forge.pki.privateKeyFromPem(privateKeyPem) as forge.pki.rsa.PrivateKey
  return { privateKeyPem, privateKey: priv, publicKey: forge.pki.setRsaPublicKey(priv.n, priv.e) }
}

/** PKCS#8 PEM of a key, encrypted with AES-256-CBC when a passphrase is given. */
export function exportPrivateKey (pair: KeyPair, passphrase?: string): string {
  const key = createPrivateKey(pair.privateKeyPem)
  return passphrase !== undefined
    ? key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString()
    : key.export({ type: 'pkcs8', format: 'pem' }).toString()
}

/** A random positive 128-bit serial as hex (RFC 5280 4.1.2.2: positive, at most 20 octets). */
export function newSerial (): string {
  const b = randomBytes(16)
  b[0] = (b[0] as number) & 0x7f
  if (b[0] === 0) b[0] = 1
  return b.toString('hex')
}

export type Subject = forge.pki.CertificateField[]

export function newCertificate (publicKey: forge.pki.PublicKey, subject: Subject, validDays: number, serial = newSerial()): forge.pki.Certificate {
  const cert = forge.pki.createCertificate()
  cert.publicKey = publicKey
  cert.serialNumber = serial
  cert.validity.notBefore = new Date(Date.now() - NOT_BEFORE_SKEW_MS)
  cert.validity.notAfter = new Date(Date.now() + validDays * 24 * 3600 * 1000)
  cert.setSubject(subject)
  return cert
}

export function signWith (cert: forge.pki.Certificate, issuerKey: forge.pki.rsa.PrivateKey): void {
  cert.sign(issuerKey, forge.md.sha256.create())
}

/** Serial as gateways see it: lower-case hex without leading zeros (what node:tls reports, lower-cased). */
export function normalSerial (hex: string): string {
  const s = hex.toLowerCase().replace(/^0+/, '')
  return s === '' ? '0' : s
}
