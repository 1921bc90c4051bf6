/**
 * Where things live in a PKI directory. Everything secret is written mode 0600.
 *
 *   DIR/ca.pem                network root CA certificate (public)
 *   DIR/ca-key.pem            its key (0600; PKCS#8, encrypted with --passphrase)
 *   DIR/token-signing-key.pem Ed25519 key that signs tokens (0600)
 *   DIR/token-verify.pem      its public key: every gateway verifies tokens offline with it
 *   DIR/issued.json           what was issued (certificates and tokens): `ferry pki list`
 *   DIR/revoked.json          revoked token ids and certificate serials; gateways watch it
 *   DIR/at-rest-keys.json     AES-256-GCM keys for encryption at rest (0600), current key id
 *   DIR/sites/NAME.pem, NAME-key.pem      site certificates
 *   DIR/clients/TENANT/ID.pem, ID-key.pem client certificates
 */
import { join } from 'node:path'

export interface PkiLayout {
  dir: string
  caCert: string
  caKey: string
  tokenSigningKey: string
  tokenVerifyKey: string
  issued: string
  revoked: string
  atRestKeys: string
  sitesDir: string
  clientsDir: string
}

export function pkiLayout (dir: string): PkiLayout {
  return {
    dir,
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    tokenSigningKey: join(dir, 'token-signing-key.pem'),
    tokenVerifyKey: join(dir, 'token-verify.pem'),
    issued: join(dir, 'issued.json'),
    revoked: join(dir, 'revoked.json'),
    atRestKeys: join(dir, 'at-rest-keys.json'),
    sitesDir: join(dir, 'sites'),
    clientsDir: join(dir, 'clients')
  }
}

export function siteCertFiles (l: PkiLayout, site: string): { certFile: string, keyFile: string } {
  return { certFile: join(l.sitesDir, `${site}.pem`), keyFile: join(l.sitesDir, `${site}-key.pem`) }
}

export function clientCertFiles (l: PkiLayout, tenant: string, id: string): { certFile: string, keyFile: string } {
  return { certFile: join(l.clientsDir, tenant, `${id}.pem`), keyFile: join(l.clientsDir, tenant, `${id}-key.pem`) }
}
