import { pino, type Logger } from 'pino'

export type { Logger }

/** One root logger per process; folders take a child with `{ component }`. */
export function createLogger (opts: { level?: string, name?: string } = {}): Logger {
  return pino({
    name: opts.name ?? 'ferry',
    level: opts.level ?? process.env.FERRY_LOG_LEVEL ?? 'info'
  })
}

/** A logger that drops everything: the default for library use and tests. */
export const silentLogger: Logger = pino({ level: 'silent' })
