/** Argument parsers shared by the ferry commands (commander calls them per option). */
import { InvalidArgumentError, type Command } from 'commander'

export function portArg (v: string): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('must be a port number 0..65535')
  return Number(v)
}

export function intArg (v: string): number {
  if (!/^\d{1,15}$/.test(v)) throw new InvalidArgumentError('must be a non-negative integer')
  return Number(v)
}

export function qosArg (v: string): 0 | 1 | 2 {
  if (v !== '0' && v !== '1' && v !== '2') throw new InvalidArgumentError('must be 0, 1 or 2')
  return Number(v) as 0 | 1 | 2
}

/** Repeatable `--property name=value`. */
export function propertyArg (v: string, prev: Array<[string, string]> = []): Array<[string, string]> {
  const eq = v.indexOf('=')
  if (eq <= 0) throw new InvalidArgumentError('must be name=value')
  return [...prev, [v.slice(0, eq), v.slice(eq + 1)]]
}

/** Which protocol a client URL speaks. */
export function transportOf (url: string): 'http' | 'mqtt' {
  const scheme = url.split(':')[0]?.toLowerCase()
  if (scheme === 'http' || scheme === 'https') return 'http'
  if (scheme === 'mqtt' || scheme === 'mqtts' || scheme === 'ws' || scheme === 'wss') return 'mqtt'
  throw new InvalidArgumentError(`unsupported URL scheme in ${url} (http, https, mqtt, mqtts, ws, wss)`)
}

/** Path of a topic on the HTTP API: each level percent-encoded, `/` kept. */
export function topicPath (namespace: string, topic: string): string {
  return `${namespace}/${topic.split('/').map(encodeURIComponent).join('/')}`
}

/** Path of MQTT over WebSocket on a Ferry gateway (gateway/server.ts registers it). */
export const MQTT_WS_PATH = '/mqtt'

/**
 * The URL to hand the MQTT client: a ws:// or wss:// URL without a path gets
 * Ferry's `/mqtt`, since `--url ws://127.0.0.1:8080` is what people type and
 * the gateway answers nothing else with a WebSocket.
 */
export function mqttUrlOf (url: string): string {
  const u = new URL(url)
  if ((u.protocol === 'ws:' || u.protocol === 'wss:') && (u.pathname === '' || u.pathname === '/')) u.pathname = MQTT_WS_PATH
  return u.toString()
}

/** `public/default/a/b` → `a/b` within namespace `public/default`; other names stay whole. */
export function localTopicOf (namespace: string, topic: string): string {
  return topic.startsWith(`${namespace}/`) ? topic.slice(namespace.length + 1) : topic
}

/**
 * The options every site-running command shares (`ferry gateway`, `ferry site`):
 * identity, data, listeners and TLS files. One list, so the two commands cannot drift.
 */
export function addSiteOptions (cmd: Command): Command {
  return cmd
    .option('--dev', 'dev mode: anonymous clients, plain listeners, throwaway certificates in DATA/certs')
    .option('--data <dir>', 'data directory (ledger in DATA/ledger)')
    .option('--site <id>', 'site id (dev mode default: dev)')
    .option('--host <addr>', 'address to bind')
    .option('--mqtt <port>', 'plain MQTT port (dev only)', portArg)
    .option('--mqtts <port>', 'MQTT over TLS port', portArg)
    .option('--http <port>', 'plain HTTP + WebSocket port (dev only)', portArg)
    .option('--https <port>', 'HTTPS + secure WebSocket port', portArg)
    .option('--cert <file>', 'site certificate (PEM)')
    .option('--key <file>', 'site private key (PEM)')
    .option('--config <file>', 'site config file (JSON); flags override it')
}

/** etcd endpoint of topology commands and `ferry site` without --etcd or $FERRY_ETCD. */
export const DEFAULT_ETCD = 'http://127.0.0.1:2379'
/** Network name without --network or $FERRY_NETWORK. */
export const DEFAULT_NETWORK = 'dev'
