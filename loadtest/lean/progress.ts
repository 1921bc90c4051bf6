/**
 * Progress of a long run on a terminal: rate so far, elapsed and remaining
 * seconds on one rewritten stderr line. Silent when stderr is not a TTY (CI,
 * `--json` piped into a file), so logs stay clean.
 */
export class Progress {
  private readonly tty = process.stderr.isTTY === true

  constructor (private readonly label: string, private readonly totalSeconds: number) {}

  tick (count: number, elapsedMs: number): void {
    if (!this.tty) return
    const s = elapsedMs / 1000
    const rate = s > 0 ? Math.round(count / s) : 0
    const left = Math.max(0, Math.ceil(this.totalSeconds - s))
    process.stderr.write(`\r${this.label}: ${rate.toLocaleString('en-US')} msgs/s, ${s.toFixed(0)} s elapsed, ${left} s left   `)
  }

  done (): void {
    if (this.tty) process.stderr.write('\r\x1b[K')
  }
}
