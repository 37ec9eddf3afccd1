// Follows a console log file that another process appends to (xenconsoled
// writes each guest's console to one) and hands out its new complete lines.
// The guest writes what it likes: lines are bounded, control characters
// dropped, and a burst is cut short rather than read whole.
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';

const maxReadBytes = 64 * 1024;
const maxLineChars = 1000;

export class ConsoleLogTail {
  readonly #path: string;
  #fd: number | null = null;
  #offset = 0;
  #partial = '';
  #skipToEnd = true;

  /** Starts at the file's end: what the guest printed before is history. */
  constructor(path: string) {
    this.#path = path;
  }

  available(): boolean {
    return existsSync(this.#path);
  }

  missingReason(): string {
    return (
      `${this.#path} does not exist; xenconsoled logs guest consoles only when started with --log=guest ` +
      '(XENCONSOLED_TRACE=guest in /etc/default/xencommons)'
    );
  }

  /** Complete lines appended since the last call, oldest first. */
  newLines(): string[] {
    if (!this.#open()) return [];
    const size = fstatSync(this.#fd!).size;
    if (this.#skipToEnd || size < this.#offset) {
      // First look, or the file was truncated or replaced (log rotation).
      this.#offset = size;
      this.#partial = '';
      this.#skipToEnd = false;
      return [];
    }
    const length = Math.min(size - this.#offset, maxReadBytes);
    if (length <= 0) return [];
    const buffer = Buffer.alloc(length);
    const read = readSync(this.#fd!, buffer, 0, length, this.#offset);
    this.#offset += read;
    const text = this.#partial + buffer.subarray(0, read).toString('utf8');
    const lines = text.split('\n');
    this.#partial = lines.pop()!.slice(-maxLineChars);
    return lines.map(clean).filter((line) => line.length > 0);
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  #open(): boolean {
    if (this.#fd !== null) return true;
    try {
      this.#fd = openSync(this.#path, 'r');
      return true;
    } catch {
      return false;
    }
  }
}

function clean(line: string): string {
  // eslint-disable-next-line no-control-regex
  return line.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').slice(0, maxLineChars);
}
