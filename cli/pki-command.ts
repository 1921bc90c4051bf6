/**
 * `ferry pki init|site|client|token|revoke|list`: run a network's PKI from a
 * directory. Output contract (scripts rely on it):
 *  - token prints the token alone on stdout; with --json one line {"id","token","tenant","expiresAt"};
 *  - list prints a table, or with --json one JSON array;
 *  - everything else prints one line saying what was written;
 *  - errors go to stderr as `ferry: message` with exit status 1.
 * The CA passphrase comes from --passphrase or FERRY_PKI_PASSPHRASE.
 */
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { isFerryError } from '../common/errors.js'
import {
  initPki, loadCa, loadCaCert, issueSiteCert, issueClientCert, issueToken, parseTtl, revoke, listIssued, pkiLayout, rotateAtRestKey
} from '../pki/index.js'

function out (line: string): void { process.stdout.write(line + '\n') }

function fail (err: unknown): never {
  process.stderr.write(`ferry: ${isFerryError(err) || err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
}

function passphraseOf (opts: { passphrase?: string }): string | undefined {
  return opts.passphrase ?? process.env.FERRY_PKI_PASSPHRASE
}

function repeat (v: string, prev: string[] = []): string[] { return [...prev, v] }
function csv (v: string): string[] { return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0) }

function action<T extends unknown[]> (fn: (...args: T) => Promise<void>): (...args: T) => Promise<void> {
  return async (...args: T) => { try { await fn(...args) } catch (err) { fail(err) } }
}

export function registerPkiCommand (program: Command): void {
  const pki = program.command('pki').description('network PKI: CA, site and client certificates, tokens, revocation')

  pki.command('init')
    .description('make a root CA, token signing keys and an at-rest key in DIR')
    .requiredOption('--dir <dir>', 'PKI directory')
    .option('--passphrase <text>', 'encrypt the CA key (or FERRY_PKI_PASSPHRASE)')
    .action(action(async (opts: { dir: string, passphrase?: string }) => {
      const passphrase = passphraseOf(opts)
      const r = await initPki(resolve(opts.dir), passphrase !== undefined ? { passphrase } : {})
      out(`ca ${r.layout.caCert} serial=${r.serial} expires=${r.expiresAt.toISOString()}`)
    }))

  pki.command('site <name>')
    .description('site server certificate (also its client certificate on links): DIR/sites/NAME.pem, NAME-key.pem')
    .requiredOption('--dir <dir>', 'PKI directory')
    .option('--host <name>', 'DNS name of the site (repeatable)', repeat)
    .option('--ip <addr>', 'IP address of the site (repeatable)', repeat)
    .option('--passphrase <text>', 'CA key passphrase (or FERRY_PKI_PASSPHRASE)')
    .action(action(async (name: string, opts: { dir: string, host?: string[], ip?: string[], passphrase?: string }) => {
      const ca = await loadCa(resolve(opts.dir), passphraseOf(opts))
      const c = await issueSiteCert(ca, name, { ...(opts.host !== undefined ? { hosts: opts.host } : {}), ...(opts.ip !== undefined ? { ips: opts.ip } : {}) })
      out(`site ${name} ${c.certFile} serial=${c.serial} expires=${c.expiresAt.toISOString()}`)
    }))

  pki.command('client <tenantSlashId>')
    .description('client certificate for MQTT over mutual TLS (identity TENANT/ID in the subject)')
    .requiredOption('--dir <dir>', 'PKI directory')
    .option('--passphrase <text>', 'CA key passphrase (or FERRY_PKI_PASSPHRASE)')
    .action(action(async (name: string, opts: { dir: string, passphrase?: string }) => {
      const ca = await loadCa(resolve(opts.dir), passphraseOf(opts))
      const c = await issueClientCert(ca, name)
      out(`client ${name} ${c.certFile} serial=${c.serial} expires=${c.expiresAt.toISOString()}`)
    }))

  pki.command('token')
    .description('access token (Ed25519 JWT); prints the token alone, or one JSON line with --json')
    .requiredOption('--dir <dir>', 'PKI directory')
    .requiredOption('--tenant <tenant>', 'tenant (`*`: network operator, site-wide admin routes)')
    .requiredOption('--ns <list>', 'namespaces, comma separated; `*` matches any run of name characters; the first is the default', csv)
    .requiredOption('--actions <list>', 'produce, consume, admin (comma separated)', csv)
    .requiredOption('--ttl <duration>', 'lifetime: 30d, 12h, 90m, 45s')
    .option('--topics <pattern>', 'narrow to MQTT-style topic patterns (repeatable or comma separated)', (v: string, prev: string[] = []) => [...prev, ...csv(v)])
    .option('--json', 'one JSON line {"id","token","tenant","expiresAt"}')
    .action(action(async (opts: { dir: string, tenant: string, ns: string[], actions: string[], ttl: string, topics?: string[], json?: boolean }) => {
      const { token, claims } = await issueToken(resolve(opts.dir), {
        tenant: opts.tenant, namespaces: opts.ns, actions: opts.actions, ttlSec: parseTtl(opts.ttl), ...(opts.topics !== undefined ? { topics: opts.topics } : {})
      })
      if (opts.json === true) out(JSON.stringify({ id: claims.id, token, tenant: claims.tenant, expiresAt: new Date(claims.expiresAt).toISOString() }))
      else out(token)
    }))

  pki.command('revoke <id>')
    .description('revoke a token id or a certificate serial (running gateways stop accepting it within 2 s)')
    .requiredOption('--dir <dir>', 'PKI directory')
    .option('--etcd <url>', 'also write it to the network\'s etcd (/ferry/NETWORK/revocations/ID): every network site applies it')
    .option('--network <name>', 'network name in etcd (with --etcd)')
    .action(action(async (id: string, opts: { dir: string, etcd?: string, network?: string }) => {
      if ((opts.etcd === undefined) !== (opts.network === undefined)) throw new Error('--etcd and --network go together')
      const r = await revoke(pkiLayout(resolve(opts.dir)), id)
      out(`${r.already ? 'already revoked' : 'revoked'} ${r.entry.kind} ${r.entry.id} (${r.entry.name})`)
      if (opts.etcd !== undefined && opts.network !== undefined) {
        // Loaded only here: plain `ferry pki` needs no etcd client. Written even when the file had it (a retry after etcd was down).
        const { putRevocation } = await import('../topology/index.js')
        const endpoints = opts.etcd.split(',').map((e) => e.trim()).filter((e) => e.length > 0)
        await putRevocation({ etcd: endpoints, network: opts.network }, { id: r.entry.id, kind: r.entry.kind, name: r.entry.name, revokedAt: new Date().toISOString() })
        out(`written to etcd network=${opts.network} key=/ferry/${opts.network}/revocations/${r.entry.id}`)
      }
    }))

  pki.command('list')
    .description('issued certificates and tokens, expiry, revoked or not')
    .requiredOption('--dir <dir>', 'PKI directory')
    .option('--json', 'one JSON array')
    .action(action(async (opts: { dir: string, json?: boolean }) => {
      const dir = resolve(opts.dir)
      const l = pkiLayout(dir)
      await loadCaCert(dir) // a missing PKI dir is an error, not an empty list
      const list = await listIssued(l)
      if (opts.json === true) { out(JSON.stringify(list)); return }
      out(['KIND', 'ID', 'NAME', 'EXPIRES', 'STATE'].join('\t'))
      for (const e of list) {
        const state = e.revoked ? 'revoked' : e.expired ? 'expired' : 'valid'
        const grant = e.kind === 'token' ? ` ns=${(e.namespaces ?? []).join(',')} actions=${(e.actions ?? []).join(',')}` : ''
        out([e.kind, e.id, e.name + grant, e.expiresAt, state].join('\t'))
      }
    }))

  pki.command('rotate-key')
    .description('add a new at-rest encryption key and make it current (old keys stay to read old records)')
    .requiredOption('--dir <dir>', 'PKI directory')
    .action(action(async (opts: { dir: string }) => {
      const dir = resolve(opts.dir)
      await loadCaCert(dir) // a missing PKI dir is an error, not an empty list
      out(`at-rest key ${await rotateAtRestKey(pkiLayout(dir))} is current`)
    }))
}
