/**
 * Site and client certificates signed by the network CA.
 *
 * A site certificate is the site's TLS server certificate (SANs: --host and
 * --ip) and also its client certificate on links to other sites (extended key
 * usage serverAuth + clientAuth; URI SAN `ferry-site:NAME`). A client
 * certificate carries its identity in the subject: CN = TENANT/ID, O = TENANT,
 * OU = `ferry-client`; gateways read it from there on mutual TLS.
 */
import { isIP } from 'node:net'
import forge from 'node-forge'
import { LEAF_VALID_DAYS } from './constants.js'
import { PkiCode, pkiError } from './errors.js'
import { exists, writeNew } from './files.js'
import { clientCertFiles, siteCertFiles } from './layout.js'
import { checkSiteName, parseClientName } from './names.js'
import { IssuedKind, recordIssued } from './registry.js'
import { exportPrivateKey, newCertificate, newRsaKeyPair, signWith } from './x509.js'
import type { Ca } from './ca.js'

/** Organizational unit marking client certificates (a site certificate is not a client identity). */
export const CLIENT_CERT_OU = 'ferry-client'
export const SITE_CERT_OU = 'ferry-site'

export interface IssuedCert { certFile: string, keyFile: string, serial: string, expiresAt: Date }

function leafFrom (ca: Ca, subject: forge.pki.CertificateField[], extensions: unknown[], validDays: number): { cert: forge.pki.Certificate, keyPem: string } {
  const key = newRsaKeyPair()
  const cert = newCertificate(key.publicKey, subject, validDays)
  cert.setIssuer(ca.cert.subject.attributes)
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
    ...extensions
  ])
  signWith(cert, ca.key.privateKey)
  return { cert, keyPem: exportPrivateKey(key) }
}

export async function issueSiteCert (ca: Ca, name: string, opts: { hosts?: string[], ips?: string[], validDays?: number } = {}): Promise<IssuedCert> {
  checkSiteName(name)
  const files = siteCertFiles(ca.layout, name)
  if (await exists(files.certFile) || await exists(files.keyFile)) {
    throw pkiError(PkiCode.SITE_TAKEN, `site name ${name} is taken: ${files.certFile} exists (revoke its serial and remove the files to re-issue, or pick another name)`)
  }
  const hosts = opts.hosts ?? []
  const ips = opts.ips ?? []
  for (const ip of ips) if (isIP(ip) === 0) throw pkiError(PkiCode.NAME_INVALID, `--ip ${ip} is not an IP address`)
  for (const h of hosts) if (!/^[A-Za-z0-9*]([A-Za-z0-9.-]{0,252})$/.test(h)) throw pkiError(PkiCode.NAME_INVALID, `--host ${h} is not a DNS name`)
  // With no names given the certificate is for this machine (loopback), which is what a first try needs.
  const dns = hosts.length === 0 && ips.length === 0 ? ['localhost'] : hosts
  const addrs = hosts.length === 0 && ips.length === 0 ? ['127.0.0.1', '::1'] : ips
  const { cert, keyPem } = leafFrom(ca, [
    { name: 'commonName', value: name }, { name: 'organizationalUnitName', value: SITE_CERT_OU }, { name: 'organizationName', value: 'Ferry' }
  ], [
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      altNames: [...dns.map((value) => ({ type: 2, value })), ...addrs.map((ip) => ({ type: 7, ip })), { type: 6, value: `ferry-site:${name}` }]
    }
  ], opts.validDays ?? LEAF_VALID_DAYS)
  await writeNew(files.keyFile, keyPem, 0o600)
  await writeNew(files.certFile, forge.pki.certificateToPem(cert))
  await recordIssued(ca.layout, {
    kind: IssuedKind.site, id: cert.serialNumber, name, issuedAt: new Date().toISOString(), expiresAt: cert.validity.notAfter.toISOString()
  })
  return { ...files, serial: cert.serialNumber, expiresAt: cert.validity.notAfter }
}

export async function issueClientCert (ca: Ca, tenantSlashId: string, opts: { validDays?: number } = {}): Promise<IssuedCert> {
  const { tenant, id } = parseClientName(tenantSlashId)
  const files = clientCertFiles(ca.layout, tenant, id)
  if (await exists(files.certFile)) {
    throw pkiError(PkiCode.EXISTS, `client ${tenant}/${id} already has a certificate (${files.certFile}): revoke it and remove the files to re-issue, or pick another id`)
  }
  const { cert, keyPem } = leafFrom(ca, [
    { name: 'commonName', value: `${tenant}/${id}` }, { name: 'organizationalUnitName', value: CLIENT_CERT_OU }, { name: 'organizationName', value: tenant }
  ], [{ name: 'extKeyUsage', clientAuth: true }], opts.validDays ?? LEAF_VALID_DAYS)
  await writeNew(files.keyFile, keyPem, 0o600)
  await writeNew(files.certFile, forge.pki.certificateToPem(cert))
  await recordIssued(ca.layout, {
    kind: IssuedKind.client, id: cert.serialNumber, name: `${tenant}/${id}`, issuedAt: new Date().toISOString(), expiresAt: cert.validity.notAfter.toISOString()
  })
  return { ...files, serial: cert.serialNumber, expiresAt: cert.validity.notAfter }
}
