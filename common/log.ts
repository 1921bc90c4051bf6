import { createRequire } from 'node:module'
import { pino, type Logger } from 'pino'
import type { PrettyStream } from 'pino-pretty'

/** pino-pretty is loaded only for a terminal: machines (systemd, Docker, pipes) never pay for it. */
const requireOptional = createRequire(import.meta.url)

export type { Logger }

export interface LoggerOptions {
  level?: string
  name?: string
  /** Human-readable lines (pino-pretty) instead of JSON; default: when stderr is a terminal. */
  pretty?: boolean
}

/**
 * One root logger per process, writing to stderr; folders take a child with
 * `{ component }`. JSON lines for machines (the default when stderr is not a
 * terminal: systemd, Docker, a pipe), pino-pretty on a terminal.
 */
export function createLogger (opts: LoggerOptions = {}): Logger {
  const options = { name: opts.name ?? 'ferry', level: opts.level ?? process.env.FERRY_LOG_LEVEL ?? 'info' }
  const human = opts.pretty ?? process.stderr.isTTY === true
  if (human) {
    const pretty = requireOptional('pino-pretty') as (opts: Record<string, unknown>) => PrettyStream
    return pino(options, pretty({ destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name', sync: true }))
  }
  return pino(options, pino.destination(2))
}

/** A logger that drops everything: the default for library use and tests. */
export const silentLogger: Logger = pino({ level: 'silent' })
