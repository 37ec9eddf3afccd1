import { describe, expect, it } from 'vitest';
import { guestPhysical } from '../src/backends/xen-faults.js';

/** Guest memory as page-table entries by address; whatever was not set reads as 0 (not present). */
function memory() {
  const qwords = new Map<bigint, bigint>();
  return {
    set: (table: bigint, index: bigint, entry: bigint) => qwords.set(table + index * 8n, entry),
    read: (gpa: bigint) => qwords.get(gpa) ?? 0n,
  };
}
const index = (va: bigint, level: number) => (va >> (12n + 9n * BigInt(level - 1))) & 0x1ffn;
const present = 1n;
const large = 0x80n;
const nx = 1n << 63n;

describe('guestPhysical: a walk of the guest page tables', () => {
  const va = 0xffffffff81234567n;
  const cr3 = 0x10000n | 0x18n;  // PCD/PWT bits in CR3 are not part of the address

  it('4 levels down to a 4 KiB page, with the flags of every entry left out', () => {
    const mem = memory();
    mem.set(0x10000n, index(va, 4), 0x20000n | present | 0x2n);
    mem.set(0x20000n, index(va, 3), 0x30000n | present);
    mem.set(0x30000n, index(va, 2), 0x40000n | present);
    mem.set(0x40000n, index(va, 1), 0x1234000n | present | nx);
    expect(guestPhysical(mem.read, cr3, 0n, va)).toBe(0x1234567n);
    expect(guestPhysical(mem.read, cr3, 0n, va + 0x1000n)).toBeNull();  // the next page is not mapped
  });

  it('2 MiB and 1 GiB pages', () => {
    const mem = memory();
    mem.set(0x10000n, index(va, 4), 0x20000n | present);
    mem.set(0x20000n, index(va, 3), 0x30000n | present);
    mem.set(0x30000n, index(va, 2), 0x1000000n | present | large);
    expect(guestPhysical(mem.read, cr3, 0n, va)).toBe(0x1000000n + (va & 0x1fffffn));
    mem.set(0x20000n, index(va, 3), 0x80000000n | present | large);
    expect(guestPhysical(mem.read, cr3, 0n, va)).toBe(0x80000000n + (va & 0x3fffffffn));
  });

  it('5 levels where CR4.LA57 says so', () => {
    const mem = memory();
    const la57 = 1n << 12n;
    mem.set(0x10000n, index(va, 5), 0x50000n | present);
    mem.set(0x50000n, index(va, 4), 0x20000n | present);
    mem.set(0x20000n, index(va, 3), 0x30000n | present);
    mem.set(0x30000n, index(va, 2), 0x40000n | present);
    mem.set(0x40000n, index(va, 1), 0x7000n | present);
    expect(guestPhysical(mem.read, cr3, la57, va)).toBe(0x7567n);
    expect(guestPhysical(mem.read, cr3, 0n, va)).toBeNull();  // read as 4 levels, the tables do not lead there
  });
});
