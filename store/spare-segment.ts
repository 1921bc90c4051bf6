/**
 * The spare segment: the next segment file, made in the background once the
 * active segment is half full, so the roll leaves the append path. Before,
 * the roll opened the file, wrote the header, fdatasync'ed it and synced the
 * directory (12-60 ms here, once per segment) with appends waiting; now it
 * renames the spare into place and syncs the directory. The spare also
 * carries SPARE_SEGMENT_ZERO_BYTES of synced zeros behind its header, so the
 * new segment starts with a zero-ahead lead (zero-ahead.ts).
 *
 * Safety: a spare is named `spare-<id>.seg` (segment.ts), never part of the
 * log until renamed, and only after the active segment is sealed (the roll
 * order is unchanged). Recovery deletes spares (recovery.ts), whatever state
 * a crash left them in; a renamed spare is a synced header and zeros, which
 * recovery reads as an empty last segment. A spare that fails to be made is
 * dropped: the roll makes the segment itself, as before.
 */
import { SEGMENT_HEADER_BYTES, encodeSegmentHeader, segmentName, spareSegmentName } from './segment.js'
import { SPARE_SEGMENT_ZERO_BYTES } from './constants.js'
import type { Disk, DiskFile } from './disk/disk.js'

export class SpareSegment {
  private making: Promise<DiskFile | null> | null = null
  private id = -1
  private discarded = false

  constructor (private readonly disk: Disk, private readonly dir: string, segmentSizeBytes: number) {
    this.bytes = Math.min(segmentSizeBytes, SEGMENT_HEADER_BYTES + SPARE_SEGMENT_ZERO_BYTES)
  }

  /** File size of a spare: header and zeros. */
  readonly bytes: number

  /** Start making the spare of segment `id` (no-op while one is made or ready). */
  prepare (id: number): void {
    // After discard() (the writer closing) a spare made here would have no owner to close it.
    if (this.making !== null || this.discarded) return
    this.id = id
    this.making = this.make(id)
  }

  private async make (id: number): Promise<DiskFile | null> {
    const path = `${this.dir}/${spareSegmentName(id)}`
    let file: DiskFile | undefined
    try {
      file = await this.disk.open(path, true)
      const buf = Buffer.alloc(this.bytes)
      encodeSegmentHeader(id).copy(buf, 0)
      // writeDurable when there is one: it also opens the O_DSYNC descriptor before the rename (real-disk.ts opens it by path).
      if (file.writeDurable !== undefined) await file.writeDurable(buf, 0)
      else { await file.write(buf, 0); await file.datasync() }
      return file
    } catch {
      await file?.close().catch(() => {})
      await this.disk.unlink(path).catch(() => {})
      return null
    }
  }

  /**
   * The spare of segment `id`, renamed into the log and the directory synced;
   * null when there is none (the caller makes the segment itself). Call only
   * after the active segment is sealed.
   */
  async take (id: number): Promise<DiskFile | null> {
    const making = this.making
    this.making = null
    if (making === null) return null
    const file = await making
    if (file === null) return null
    const spareId = this.id
    if (spareId !== id) {
      await this.drop(file, spareId)
      return null
    }
    try {
      await this.disk.rename(`${this.dir}/${spareSegmentName(id)}`, `${this.dir}/${segmentName(id)}`)
      await this.disk.syncDir(this.dir)
    } catch (err) {
      await file.close().catch(() => {})
      throw err
    }
    return file
  }

  /** Close and remove the spare (writer close or failure; recovery removes it in any case). */
  async discard (): Promise<void> {
    this.discarded = true
    const making = this.making
    this.making = null
    const file = making === null ? null : await making
    if (file !== null) await this.drop(file, this.id)
  }

  private async drop (file: DiskFile, id: number): Promise<void> {
    await file.close().catch(() => {})
    await this.disk.unlink(`${this.dir}/${spareSegmentName(id)}`).catch(() => {})
  }
}
