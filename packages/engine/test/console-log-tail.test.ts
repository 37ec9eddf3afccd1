import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConsoleLogTail } from '../src/backends/console-log-tail.js';

function logFile(initial?: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'uckpt-console-')), 'guest-web1.log');
  if (initial !== undefined) writeFileSync(file, initial);
  return file;
}

describe('following a console log another process appends to', () => {
  it('starts at the end, then hands out complete new lines, keeping a partial one for later', () => {
    const file = logFile('boot messages from before\n');
    const tail = new ConsoleLogTail(file);
    expect(tail.newLines()).toEqual([]);
    appendFileSync(file, 'one\ntwo\nthr');
    expect(tail.newLines()).toEqual(['one', 'two']);
    appendFileSync(file, 'ee\r\n');
    expect(tail.newLines()).toEqual(['three']);
    tail.close();
  });

  it('says why when the file is missing, and picks it up once it appears', () => {
    const file = logFile();
    const tail = new ConsoleLogTail(file);
    expect(tail.available()).toBe(false);
    expect(tail.missingReason()).toMatch(/--log=guest/);
    expect(tail.newLines()).toEqual([]);
    writeFileSync(file, 'first\n');
    expect(tail.newLines()).toEqual([]); // what was there when it appeared is history
    appendFileSync(file, 'second\n');
    expect(tail.newLines()).toEqual(['second']);
  });

  it('bounds what a guest prints: control characters dropped, lines cut, a burst read in parts, truncation survived', () => {
    const file = logFile('');
    const tail = new ConsoleLogTail(file);
    tail.newLines();
    appendFileSync(file, `\u001b[31mred\u0007\n${'x'.repeat(5000)}\n`);
    const [red, long] = tail.newLines();
    expect(red).toBe('[31mred');
    expect(long).toHaveLength(1000);
    appendFileSync(file, 'y\n'.repeat(50_000));
    const first = tail.newLines();
    expect(first.length).toBeLessThan(50_000);
    let total = first.length;
    for (let part = tail.newLines(); part.length > 0; part = tail.newLines()) total += part.length;
    expect(total).toBe(50_000);
    writeFileSync(file, 'after rotation\n');
    expect(tail.newLines()).toEqual([]);
    appendFileSync(file, 'next\n');
    expect(tail.newLines()).toEqual(['next']);
  });
});
