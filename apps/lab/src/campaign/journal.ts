// The campaign's journal: a JSON Lines file with the configuration on its
// first line and one line per injection as it completes, so that a campaign
// cut short (Ctrl-C, a kill, a crash) resumes where it stopped. A line cut
// off by a kill mid-write is dropped: that injection runs again.
import { appendFileSync, existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CampaignConfig } from './config.js';
import type { InjectionRecord } from './outcome.js';

interface Header {
  campaign: 1;
  config: CampaignConfig;
}

export interface OpenedJournal {
  journal: Journal;
  /** The configuration the journal was started with (null for a new one). */
  config: CampaignConfig | null;
  done: InjectionRecord[];
}

export const recordKey = (r: { index: number; retention: number }) => `${r.index}/${r.retention}`;

export class Journal {
  readonly file: string;

  private constructor(file: string) {
    this.file = file;
  }

  /** Reads what a journal holds so far; a missing file is an empty journal. */
  static read(file: string): OpenedJournal {
    if (!existsSync(file)) return { journal: new Journal(file), config: null, done: [] };
    let text = readFileSync(file, 'utf8');
    const cut = text.lastIndexOf('\n') + 1;
    if (cut < text.length) {
      truncateSync(file, Buffer.byteLength(text.slice(0, cut)));
      text = text.slice(0, cut);
    }
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    if (lines.length === 0) return { journal: new Journal(file), config: null, done: [] };
    const parse = (line: string, at: number): unknown => {
      try {
        return JSON.parse(line);
      } catch {
        throw new Error(`${file} line ${at + 1} is not JSON: not a campaign journal, or damaged`);
      }
    };
    const header = parse(lines[0]!, 0) as Partial<Header>;
    if (header.campaign !== 1 || !header.config) throw new Error(`${file} does not start with a campaign header: not a campaign journal`);
    const done = new Map<string, InjectionRecord>();
    lines.slice(1).forEach((line, i) => {
      const record = parse(line, i + 1) as InjectionRecord;
      done.set(recordKey(record), record);
    });
    return { journal: new Journal(file), config: header.config, done: [...done.values()] };
  }

  /** Writes the header of a new journal. */
  start(config: CampaignConfig): void {
    mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileSync(this.file, `${JSON.stringify({ campaign: 1, config } satisfies Header)}\n`);
  }

  /** One line, written at once: a kill leaves at most that line cut off. */
  append(record: InjectionRecord): void {
    appendFileSync(this.file, `${JSON.stringify(record)}\n`);
  }
}
