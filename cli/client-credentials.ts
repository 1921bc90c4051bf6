/**
 * Credentials and TLS trust of `ferry pub` / `ferry sub` (docs/SECURITY.md):
 *   --token TOKEN   the MQTT CONNECT password, or `Authorization: Bearer` over HTTP (also FERRY_TOKEN, kept out of `ps`)
 *   --ca FILE       CA certificate (PEM) trusted for https://, mqtts://, wss:// (the network's PKI/ca.pem)
 *   --cert FILE     a client certificate for mutual TLS, MQTT over TLS (mqtts://) only: uWebSockets.js cannot
 *                   read client certificates, so HTTPS and WebSocket authenticate with tokens.
 *   --cert-key FILE its private key (default: a key in the --cert file). Not `--key`: that is ferry pub's message key.
 * Over HTTPS with --ca the request goes through node:https (fetch takes no CA option in Node 20).
 */
import { readFile } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import { InvalidArgumentError } from 'commander'

export interface ClientCredentialOptions {
  token?: string
  ca?: string
  cert?: string
  certKey?: string
}

export interface ClientCredentials {
  token: string | undefined
  ca: Buffer | undefined
  cert: Buffer | undefined
  key: Buffer | undefined
}

/** Environment variable read when --token is not given: a token on the command line shows in `ps`. */
export const TOKEN_ENV = 'FERRY_TOKEN'

async function readPem (file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (err) {
    throw new InvalidArgumentError(`${flag} ${file}: ${(err as Error).message}`)
  }
}

/** Check the flags against the URL and read the files. */
export async function loadClientCredentials (o: ClientCredentialOptions, url: string): Promise<ClientCredentials> {
  const scheme = url.split(':')[0]?.toLowerCase() ?? ''
  if (o.certKey !== undefined && o.cert === undefined) throw new InvalidArgumentError('--cert-key needs --cert')
  if (o.cert !== undefined && scheme !== 'mqtts') {
    throw new InvalidArgumentError('--cert (mutual TLS) works with mqtts:// URLs only; over https:// and wss:// use --token')
  }
  if (o.ca !== undefined && !['https', 'mqtts', 'wss'].includes(scheme)) throw new InvalidArgumentError(`--ca is for TLS URLs (https://, mqtts://, wss://), not ${scheme}://`)
  const token = o.token ?? (process.env[TOKEN_ENV] !== undefined && process.env[TOKEN_ENV] !== '' ? process.env[TOKEN_ENV] : undefined)
  const cert = o.cert !== undefined ? await readPem(o.cert, '--cert') : undefined
  let key: Buffer | undefined
  if (o.certKey !== undefined) key = await readPem(o.certKey, '--cert-key')
  else if (cert !== undefined) {
    if (!cert.includes('PRIVATE KEY-----')) throw new InvalidArgumentError(`--cert ${o.cert as string} holds no private key: give it with --cert-key FILE`)
    key = cert
  }
  return { token, ca: o.ca !== undefined ? await readPem(o.ca, '--ca') : undefined, cert, key }
}

/**
 * Options for the mqtt client: the token as password (3.1.1 needs a user name with a password [MQTT-3.1.2-22];
 * MQTT 5 clients send it too), the user name `TENANT/NAMESPACE` choosing the namespace, and TLS material.
 */
export function mqttCredentialOptions (c: ClientCredentials, username: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (c.token !== undefined) { out.password = c.token; out.username = username ?? 'ferry-cli' } else if (username !== undefined) out.username = username
  if (c.ca !== undefined) out.ca = c.ca
  if (c.cert !== undefined) out.cert = c.cert
  if (c.key !== undefined) out.key = c.key
  return out
}

/** Headers with the bearer token added. */
export function withToken (c: ClientCredentials, headers: Headers): Headers {
  if (c.token !== undefined) headers.set('authorization', `Bearer ${c.token}`)
  return headers
}

/** fetch through node:https trusting `ca` (the whole body is read: pull replies are bounded by the gateway). */
export async function fetchWithCa (url: string, init: RequestInit, ca: Buffer): Promise<Response> {
  const u = new URL(url)
  const mod = u.protocol === 'https:' ? https : http
  const headers: Record<string, string> = {}
  new Headers(init.headers).forEach((v, k) => { headers[k] = v })
  const body = init.body === undefined || init.body === null ? undefined : Buffer.from(init.body as string | Uint8Array)
  if (body !== undefined) headers['content-length'] = String(body.length)
  return await new Promise<Response>((resolve, reject) => {
    const req = mod.request(u, { method: init.method ?? 'GET', headers, ca, ...(init.signal !== undefined && init.signal !== null ? { signal: init.signal } : {}) }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => { chunks.push(c) })
      res.on('error', reject)
      res.on('end', () => {
        const h = new Headers()
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v)
        const status = res.statusCode ?? 0
        resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers: h }))
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}
