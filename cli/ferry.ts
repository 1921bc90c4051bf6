#!/usr/bin/env -S node --initial-old-space-size=64 --max-semi-space-size=8 --single-threaded-gc
/**
 * The `ferry` command: `ferry gateway` runs a site; `ferry pub` / `ferry sub`
 * are small clients for trying one out.
 * The shebang passes GATEWAY_NODE_FLAGS (gateway/node-flags.ts says why), for
 * an installed `ferry` bin; `env -S` splits it into node's argv.
 */
import { Command, Option } from 'commander'
import { isFerryError } from '../common/errors.js'
import { addSiteOptions, intArg, propertyArg, qosArg } from './args.js'
import type { GatewayOptions } from './gateway-command.js'
import { runPub, runSub, type PubOptions, type SubOptions } from './client-commands.js'
import { registerPkiCommand } from './pki-command.js'
import { registerAdminCommand } from './admin-command.js'
import { FERRY_VERSION } from '../common/version.js'
import { registerSiteCommand, registerTopologyCommands } from './topology-command.js'
import type { DevOptions } from './dev-command.js'
import { registerBench } from './bench-command.js'

// What only `ferry gateway` and `ferry dev` need (uWebSockets.js, the store, etcd, NATS) is imported when they run:
// every other command starts in about a third of the time.

const DEFAULT_URL = 'http://127.0.0.1:8080'
const DEFAULT_NAMESPACE = 'public/default'

function fail (err: unknown): never {
  process.stderr.write(`ferry: ${isFerryError(err) || err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
}

const program = new Command()
program.name('ferry').description('Ferry: geo-replicated edge message gateway').version(FERRY_VERSION, '-V, --version').showHelpAfterError()

addSiteOptions(program.command('gateway').description('run a site gateway'))
  .option('--pki <dir>', 'PKI directory (ferry pki init): tokens, client CA, revocation, site certificate DIR/sites/SITE.pem')
  .option('--log-level <level>', 'pino log level: fatal, error, warn, info, debug, trace (default info, or FERRY_LOG_LEVEL)')
  .option('--no-probe', 'do not run the health detector (probe messages through ferry/probe)')
  .action(async (opts: GatewayOptions) => {
    try { await (await import('./gateway-command.js')).runGateway(opts) } catch (err) { fail(err) }
  })

program.command('pub')
  .description('publish one message')
  .requiredOption('-t, --topic <topic>', 'topic (within --namespace for HTTP)')
  .option('-m, --message <text>', 'payload text')
  .option('-f, --file <file>', 'payload from a file')
  .option('--url <url>', 'gateway URL: http(s):// or mqtt(s)://, ws(s)://', DEFAULT_URL)
  .option('--namespace <tenant/ns>', 'namespace (HTTP)', DEFAULT_NAMESPACE)
  .addOption(new Option('--qos <qos>', 'MQTT QoS').argParser(qosArg).default(1))
  .option('--key <key>', 'message key')
  .option('--priority <n>', 'priority 0..9', intArg)
  .option('--delay-ms <ms>', 'deliver after this delay', intArg)
  .option('--property <name=value>', 'user property (repeatable)', propertyArg)
  .option('--token <token>', 'access token (ferry pki token): MQTT password / HTTP Bearer (or FERRY_TOKEN)')
  .option('--ca <file>', 'CA certificate (PEM) to trust for https://, mqtts://, wss:// (PKI/ca.pem)')
  .option('--cert <file>', 'client certificate for mutual TLS (mqtts:// only)')
  .option('--cert-key <file>', 'private key of --cert (default: a key in the --cert file); --key is the message key')
  .action(async (opts: PubOptions) => {
    try { await runPub(opts) } catch (err) { fail(err) }
  })

program.command('sub')
  .description('print messages, one line each: "<topic> <payload>"')
  .requiredOption('-t, --topic <topic>', 'topic (HTTP) or topic filter (MQTT)')
  .option('--count <n>', 'exit after this many messages (0: never)', intArg, 0)
  .option('--url <url>', 'gateway URL: http(s):// or mqtt(s)://, ws(s)://', DEFAULT_URL)
  .option('--namespace <tenant/ns>', 'namespace (HTTP)', DEFAULT_NAMESPACE)
  .option('--subscription <name>', 'durable subscription name (HTTP)', 'ferry-cli')
  .option('--mode <mode>', 'subscription mode (HTTP): exclusive, failover, shared, key_shared', 'shared')
  .option('--token <token>', 'access token (ferry pki token): MQTT password / HTTP Bearer (or FERRY_TOKEN)')
  .option('--ca <file>', 'CA certificate (PEM) to trust for https://, mqtts://, wss:// (PKI/ca.pem)')
  .option('--cert <file>', 'client certificate for mutual TLS (mqtts:// only)')
  .option('--cert-key <file>', 'private key of --cert (default: a key in the --cert file); --key is the message key')
  .addOption(new Option('--qos <qos>', 'MQTT QoS').argParser(qosArg).default(1))
  .action(async (opts: SubOptions) => {
    const stop = new AbortController()
    process.once('SIGINT', () => { stop.abort() })
    process.once('SIGTERM', () => { stop.abort() })
    try { await runSub(opts, stop.signal); process.exit(0) } catch (err) { fail(err) }
  })

// `ferry pki ...` (pki helper): its subcommands live in cli/pki-command.ts.
registerPkiCommand(program)
registerAdminCommand(program)
// Network commands (cli/topology-command.ts, cli/dev-command.ts).
registerTopologyCommands(program, fail)
registerSiteCommand(program, fail)
program.command('dev')
  .description('run a local network on loopback: etcd, a nats-server per site, a gateway per site; prints READY {...}')
  .requiredOption('--sites <ids>', 'site ids, comma separated (e.g. a,b,c)')
  .requiredOption('--dir <dir>', 'directory for every site\'s data, the PKI and logs (reused by later starts)')
  .option('--network <name>', 'network name', 'dev')
  .option('--well-known-ports', 'site i listens on 1883+i (MQTT), 8883+i (MQTT/TLS), 8080+i (HTTP, WS), 8443+i (HTTPS, WSS)')
  // Edge sites (cli/dev-command.ts): SITE:HUB makes SITE's nats-server a leaf node of HUB's.
  .option('--leaf <site:hub,...>', 'edge sites whose nats-server joins its hub region\'s server as a leaf node (e.g. c:a)')
  .action(async (opts: DevOptions) => {
    try { await (await import('./dev-command.js')).runDev(opts) } catch (err) { fail(err) }
  })
registerBench(program)

program.parseAsync(process.argv).catch(fail)
