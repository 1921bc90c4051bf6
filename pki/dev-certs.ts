/**
 * Throwaway certificates for dev mode and tests: a self-signed CA and one
 * server certificate for localhost / 127.0.0.1 / ::1. The full PKI (site CA,
 * client certificates, rotation, revocation) comes later in pki/.
 *
 * Keys come from node:crypto (native, ~10 ms) rather than node-forge's pure-JS
 * RSA (~1 s each); node-forge builds and signs the X.509 certificates.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile, access } from 'node:fs/promises'
import { join } from 'node:path'
import forge from 'node-forge'

export interface DevCertificates {
  caCertPem: string
  certPem: string
  keyPem: string
}

/** Validity of throwaway certificates, days. */
const DEV_CERT_VALID_DAYS = 365
const RSA_BITS = 2048

function newKeyPair (): { privateKeyPem: string, publicKey: forge.pki.PublicKey, privateKey: forge.pki.PrivateKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: RSA_BITS })
  const privateKeyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()
  const fPriv = forge.pki.privateKeyFromPem(privateKeyPem)
  const fPub = forge.pki.setRsaPublicKey(fPriv.n, fPriv.e)
  return { privateKeyPem, publicKey: fPub, privateKey: fPriv }
}

function baseCert (publicKey: forge.pki.PublicKey, cn: string): forge.pki.Certificate {
  const cert = forge.pki.createCertificate()
  cert.publicKey = publicKey
  cert.serialNumber = '01' + randomBytes(8).toString('hex')
  cert.validity.notBefore = new Date(Date.now() - 60_000)
  cert.validity.notAfter = new Date(Date.now() + DEV_CERT_VALID_DAYS * 24 * 3600 * 1000)
  cert.setSubject([{ name: 'commonName', value: cn }, { name: 'organizationName', value: 'Ferry dev' }])
  return cert
}

/** Make a CA and a localhost server certificate signed by it. */
export function makeDevCertificates (hostnames: string[] = ['localhost']): DevCertificates {
  const ca = newKeyPair()
  const caCert = baseCert(ca.publicKey, 'Ferry dev CA')
  caCert.setIssuer(caCert.subject.attributes)
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }
  ])
  caCert.sign(ca.privateKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create())

  const srv = newKeyPair()
  const cert = baseCert(srv.publicKey, hostnames[0] ?? 'localhost')
  cert.setIssuer(caCert.subject.attributes)
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...hostnames.map((h) => ({ type: 2, value: h })),
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' }
      ]
    }
  ])
  cert.sign(ca.privateKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create())
  return {
    caCertPem: forge.pki.certificateToPem(caCert),
    certPem: forge.pki.certificateToPem(cert),
    keyPem: srv.privateKeyPem
  }
}

/** Files written by ensureDevCertificates. */
export interface DevCertificateFiles { caFile: string, certFile: string, keyFile: string }

/** Write (once) dev certificates into dir; reuse them when present. */
export async function ensureDevCertificates (dir: string): Promise<DevCertificateFiles> {
  const files = { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server-key.pem') }
  try {
    await Promise.all(Object.values(files).map(async (f) => await access(f)))
    await readFile(files.certFile)
    return files
  } catch {
    await mkdir(dir, { recursive: true })
    const c = makeDevCertificates()
    await writeFile(files.caFile, c.caCertPem)
    await writeFile(files.certFile, c.certPem)
    await writeFile(files.keyFile, c.keyPem, { mode: 0o600 })
    return files
  }
}
