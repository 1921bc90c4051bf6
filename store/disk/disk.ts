/**
 * The only door to files. Real disk: disk/real-disk.ts; simulated disk with
 * faults: disk/sim-disk.ts.
 */
export interface DiskFile {
  /** Write all of `buf` at `position`. May fail with ENOSPC (partially written). */
  write (buf: Buffer, position: number): Promise<void>
  /** Read up to `length` bytes at `position` into a new Buffer (shorter at end of file). */
  read (position: number, length: number): Promise<Buffer>
  /**
   * Optional: write and make durable in one step (O_DSYNC), cheaper than
   * write + datasync. Fails like either of them (ENOSPC, EIO).
   */
  writeDurable?: (buf: Buffer, position: number) => Promise<void>
  datasync (): Promise<void>
  truncate (length: number): Promise<void>
  size (): Promise<number>
  close (): Promise<void>
}

export interface Disk {
  /** Open (create when `create`) a file for read and write. */
  open (path: string, create: boolean): Promise<DiskFile>
  unlink (path: string): Promise<void>
  rename (from: string, to: string): Promise<void>
  /** File names in a directory ([] when missing). */
  list (dir: string): Promise<string[]>
  mkdirp (dir: string): Promise<void>
  /** Size in bytes, or undefined when missing. */
  stat (path: string): Promise<number | undefined>
  /** Make directory entries (creates, renames, unlinks) durable. */
  syncDir (dir: string): Promise<void>
}
