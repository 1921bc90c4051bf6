/**
 * `ferry pub` and `ferry sub`: small clients for trying a site out.
 *
 * They speak HTTP by default (fetch, built into Node: no extra dependency,
 * durable pull subscriptions with acks, works through any HTTP proxy). With
 * an mqtt://, mqtts://, ws:// or wss:// URL they speak MQTT through the `mqtt`
 * package, loaded only then (it is a devDependency: present in a checkout,
 * absent from a production install, where the command says so).
 * TLS URLs trust the system CAs plus --ca FILE (or NODE_EXTRA_CA_CERTS); a
 * production gateway wants --token (or a client certificate over mqtts://):
 * cli/client-credentials.ts.
 */
import { readFile } from 'node:fs/promises'
import { FerryError } from '../common/errors.js'
import { localTopicOf, MQTT_WS_PATH, mqttUrlOf, topicPath, transportOf } from './args.js'
import { CliCode } from './errors.js'
import { fetchWithCa, loadClientCredentials, mqttCredentialOptions, withToken, type ClientCredentialOptions, type ClientCredentials } from './client-credentials.js'

export interface PubOptions extends ClientCredentialOptions {
  topic: string
  message?: string
  file?: string
  url: string
  namespace: string
  qos: 0 | 1 | 2
  key?: string
  priority?: number
  delayMs?: number
  property?: Array<[string, string]>
}

export interface SubOptions extends ClientCredentialOptions {
  topic: string
  url: string
  namespace: string
  subscription: string
  mode: string
  count: number
  qos: 0 | 1 | 2
}

/** Long-poll wait of `ferry sub` over HTTP, ms: below the gateway's pullWaitMsMax default. */
const SUB_POLL_WAIT_MS = 20_000
/** Messages asked per poll by `ferry sub`. */
const SUB_POLL_MESSAGES_MAX = 100
/** The dev namespace (--namespace default): over MQTT no user name is sent for it, so a token picks its own first namespace. */
const DEV_NAMESPACE = 'public/default'
/** How long `ferry pub` / `ferry sub` wait for an MQTT CONNACK before saying the gateway is unreachable, ms. */
const MQTT_CONNECT_TIMEOUT_MS = 10_000

interface MqttModule {
  connectAsync: (url: string, opts?: Record<string, unknown>, allowRetries?: boolean) => Promise<MqttClientLike>
}
/** What a PUBACK / PUBREC carries back on failure (MQTT 5). */
interface AckPacketLike { reasonCode?: number, properties?: { reasonString?: string } }
interface MqttClientLike {
  publish: (topic: string, message: Buffer, opts: Record<string, unknown>, cb: (err?: Error, packet?: AckPacketLike) => void) => unknown
  subscribeAsync: (filter: string, opts: Record<string, unknown>) => Promise<unknown>
  on: (event: 'message', cb: (topic: string, payload: Buffer) => void) => void
  endAsync: () => Promise<void>
}

async function loadMqtt (): Promise<MqttModule> {
  try {
    return await import('mqtt') as unknown as MqttModule
  } catch {
    throw new FerryError(CliCode.MQTT_CLIENT_MISSING, 'MQTT URLs need the mqtt package (npm install mqtt); use an http:// URL instead')
  }
}

/** The gateway's own error (code and reason) from an HTTP error reply. */
async function errorOf (res: Response): Promise<FerryError> {
  const text = await res.text()
  try {
    const body = JSON.parse(text) as { error?: { code?: string, message?: string } }
    return new FerryError(body.error?.code ?? CliCode.HTTP, `${res.status}: ${body.error?.message ?? text}`)
  } catch {
    return new FerryError(CliCode.HTTP, `${res.status}: ${text}`)
  }
}

/** The socket-level reason under fetch's bare "fetch failed" (ECONNREFUSED 127.0.0.1:8080, ENOTFOUND, ...). */
function causeOf (err: unknown): string {
  let c: unknown = err
  for (let depth = 0; depth < 4 && c instanceof Error && c.cause !== undefined; depth++) c = c.cause
  return c instanceof Error ? c.message : String(c)
}

/** The gateway URL without a trailing `/`, so `http://host:8080/` works like `http://host:8080`. */
function httpBaseOf (url: string): string {
  return url.replace(/\/+$/, '')
}

/** fetch, with an unreachable gateway reported by the address tried. */
async function request (url: string, init: RequestInit, creds: ClientCredentials): Promise<Response> {
  try {
    return creds.ca !== undefined ? await fetchWithCa(url, init, creds.ca) : await fetch(url, init)
  } catch (err) {
    if (init.signal?.aborted === true) throw err
    throw new FerryError(CliCode.UNREACHABLE, `cannot reach the gateway at ${new URL(url).origin}: ${causeOf(err)}`, { cause: err })
  }
}

/** Connect over MQTT 5; failures say which address was tried and why. No reconnect loop: a CLI should fail, not hang. */
async function connectMqtt (url: string, creds: ClientCredentials, namespace: string): Promise<MqttClientLike> {
  const mqtt = await loadMqtt()
  const target = mqttUrlOf(url)
  // The user name TENANT/NAMESPACE picks one of the credential's namespaces (docs/SECURITY.md).
  const username = namespace !== DEV_NAMESPACE ? namespace : undefined
  try {
    return await mqtt.connectAsync(target, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: MQTT_CONNECT_TIMEOUT_MS, ...mqttCredentialOptions(creds, username) }, false)
  } catch (err) {
    // A CONNACK refusal (bad credentials 0x86, not authorized 0x87, ...) is an answer, not an unreachable gateway.
    const code = (err as { code?: unknown }).code
    if (typeof code === 'number') throw new FerryError(CliCode.REFUSED, `the gateway at ${target} refused the connection: ${(err as Error).message} (reason code 0x${code.toString(16).padStart(2, '0')})`, { cause: err })
    const u = new URL(target)
    const hint = (u.protocol === 'ws:' || u.protocol === 'wss:') && u.pathname !== MQTT_WS_PATH ? ` (Ferry serves MQTT over WebSocket on ${MQTT_WS_PATH})` : ''
    throw new FerryError(CliCode.UNREACHABLE, `cannot connect over MQTT to ${target}: ${causeOf(err)}${hint}`, { cause: err })
  }
}

/** Publish and wait for the ack; a refusal carries the gateway's reason string, not only the reason code's name. */
async function mqttPublish (client: MqttClientLike, topic: string, payload: Buffer, opts: Record<string, unknown>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    client.publish(topic, payload, opts, (err, packet) => {
      if (err === undefined || err === null) { resolve(); return }
      const reason = packet?.properties?.reasonString
      const code = packet?.reasonCode
      const codeText = code !== undefined ? ` (reason code 0x${code.toString(16).padStart(2, '0')})` : ''
      reject(new FerryError(CliCode.REFUSED, `${reason ?? err.message}${codeText}`, { cause: err }))
    })
  })
}

export async function runPub (o: PubOptions): Promise<void> {
  const payload = o.file !== undefined ? await readFile(o.file) : Buffer.from(o.message ?? '', 'utf8')
  const creds = await loadClientCredentials(o, o.url)
  if (transportOf(o.url) === 'mqtt') {
    const client = await connectMqtt(o.url, creds, o.namespace)
    const userProperties: Record<string, string> = {}
    if (o.key !== undefined) userProperties['ferry-key'] = o.key
    if (o.priority !== undefined) userProperties['ferry-priority'] = String(o.priority)
    if (o.delayMs !== undefined) userProperties['ferry-delay-ms'] = String(o.delayMs)
    for (const [n, v] of o.property ?? []) userProperties[n] = v
    // mqtt-packet cannot encode an empty userProperties object (the publish is silently never sent): leave it out.
    const properties = Object.keys(userProperties).length > 0 ? { userProperties } : {}
    try {
      await mqttPublish(client, o.topic, payload, { qos: o.qos, properties })
    } finally {
      await client.endAsync()
    }
    process.stdout.write(`published topic=${o.topic}\n`)
    return
  }
  const headers = withToken(creds, new Headers({ 'content-type': 'application/octet-stream' }))
  if (o.key !== undefined) headers.set('ferry-key', o.key)
  if (o.priority !== undefined) headers.set('ferry-priority', String(o.priority))
  if (o.delayMs !== undefined) headers.set('ferry-delay-ms', String(o.delayMs))
  for (const [n, v] of o.property ?? []) headers.append('ferry-property', `${encodeURIComponent(n)}=${encodeURIComponent(v)}`)
  const res = await request(`${httpBaseOf(o.url)}/v1/topics/${topicPath(o.namespace, o.topic)}/messages`, { method: 'POST', headers, body: payload }, creds)
  if (!res.ok) throw await errorOf(res)
  const r = await res.json() as { messageId: string, topic: string }
  // Topics print local to the namespace, as over MQTT, so both transports read alike.
  process.stdout.write(`published topic=${localTopicOf(o.namespace, r.topic)} messageId=${r.messageId}\n`)
}

function line (topic: string, payload: Buffer | string): string {
  return `${topic} ${typeof payload === 'string' ? payload : payload.toString('utf8')}\n`
}

export async function runSub (o: SubOptions, signal: AbortSignal): Promise<void> {
  let seen = 0
  const enough = (): boolean => o.count > 0 && seen >= o.count
  const creds = await loadClientCredentials(o, o.url)
  if (transportOf(o.url) === 'mqtt') {
    const client = await connectMqtt(o.url, creds, o.namespace)
    await new Promise<void>((resolve, reject) => {
      signal.addEventListener('abort', () => { resolve() }, { once: true })
      client.on('message', (topic, payload) => {
        if (enough()) return
        seen++
        process.stdout.write(line(topic, payload))
        if (enough()) resolve()
      })
      client.subscribeAsync(o.topic, { qos: o.qos }).catch(reject)
    })
    await client.endAsync()
    return
  }
  const base = `${httpBaseOf(o.url)}/v1/topics/${topicPath(o.namespace, o.topic)}/subscriptions/${encodeURIComponent(o.subscription)}`
  while (!enough() && !signal.aborted) {
    const want = o.count > 0 ? Math.min(SUB_POLL_MESSAGES_MAX, o.count - seen) : SUB_POLL_MESSAGES_MAX
    let res: Response
    try {
      res = await request(`${base}/messages?max=${want}&waitMs=${SUB_POLL_WAIT_MS}&mode=${encodeURIComponent(o.mode)}`, { signal, headers: withToken(creds, new Headers()) }, creds)
    } catch (err) {
      if (signal.aborted) return
      throw err
    }
    if (!res.ok) throw await errorOf(res)
    const { messages } = await res.json() as { messages: Array<{ messageId: string, topic: string, payload?: string, payloadBase64: string }> }
    if (messages.length === 0) continue
    for (const m of messages) process.stdout.write(line(localTopicOf(o.namespace, m.topic), m.payload ?? Buffer.from(m.payloadBase64, 'base64')))
    seen += messages.length
    // Ack after printing: a crash in between shows the message again, never loses it.
    // Each id with its topic: a filter (`sensors/#`) spans topics and ids are per topic.
    const ack = await request(`${base}/ack`, {
      method: 'POST',
      headers: withToken(creds, new Headers({ 'content-type': 'application/json' })),
      body: JSON.stringify({ messages: messages.map((m) => ({ topic: m.topic, messageId: m.messageId })) })
    }, creds)
    if (!ack.ok) throw await errorOf(ack)
  }
}
