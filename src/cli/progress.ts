/**
 * A download's progress for people: a bar redrawn in place on a terminal, a line every tenth
 * elsewhere (a log, a pipe, a test), so that neither floods its reader.
 */
import type { Output } from './io.js';

/** `1.5 MB`, `830 kB`, `12 B`: decimal units, as download tools print them. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(bytes < 10_000 ? 1 : 0)} kB`;
  if (bytes < 1_000_000_000) return `${(bytes / 1_000_000).toFixed(bytes < 10_000_000 ? 1 : 0)} MB`;
  return `${(bytes / 1_000_000_000).toFixed(1)} GB`;
}

export interface ProgressView {
  readonly received: number;
  readonly total: number;
  readonly percent: number;
  readonly bytesPerSecond: number;
  readonly resumes: number;
}

const WIDTH = 24;

/** `[##########--------------]  42 %  1.3 MB of 3.1 MB  9.8 MB/s  resumed 1x` */
export function progressLine(progress: ProgressView): string {
  const filled = Math.round((WIDTH * progress.percent) / 100);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}]`;
  const resumed = progress.resumes > 0 ? `  resumed ${progress.resumes}x` : '';
  return `${bar} ${String(progress.percent).padStart(3)} %  ${formatBytes(progress.received)} of ${formatBytes(progress.total)}  ${formatBytes(progress.bytesPerSecond)}/s${resumed}`;
}

/** Draws progress on `out`: in place on a terminal, else at each tenth. */
export class ProgressPrinter {
  readonly #out: Output;
  #shownTenth = -1;
  #drawn = false;

  constructor(out: Output) {
    this.#out = out;
  }

  update(progress: ProgressView): void {
    if (this.#out.isTTY === true) {
      this.#out.write(`\r${progressLine(progress)}\u001b[K`);
      this.#drawn = true;
      return;
    }
    const tenth = Math.floor(progress.percent / 10);
    if (tenth === this.#shownTenth) return;
    this.#shownTenth = tenth;
    this.#out.write(`${progressLine(progress)}\n`);
  }

  /** Ends the bar's line before other output. */
  done(): void {
    if (this.#drawn) this.#out.write('\n');
    this.#drawn = false;
    this.#shownTenth = -1;
  }
}
