/*
 * ASCII pictures of address spaces, as the kernel's tools/testing/vma tests draw them: one
 * row per mm, vmas as letters over a page ruler. A letter is uppercase where a present PTE
 * maps the page, lowercase where nothing is mapped yet, and `~` where the PTE is a swap
 * entry; `.` is unmapped. Letters name vma structs (the same struct keeps its letter across
 * pictures drawn with the same Letters instance).
 */
import type { Kernel } from "../impl/kernel.js";
import type { Vma } from "../impl/types.js";

export class Letters {
  private readonly byVma = new Map<number, string>();
  private next = 0;
  of(vma: Vma): string {
    let l = this.byVma.get(vma.oid);
    if (l === undefined) {
      l = String.fromCharCode(65 + (this.next++ % 26));
      this.byVma.set(vma.oid, l);
    }
    return l;
  }
}

export function ruler(pages: number, indent: number): string[] {
  let tens = "";
  let ones = "";
  for (let i = 0; i < pages; i++) {
    tens += i % 16 === 0 ? (i / 16).toString(16) : " ";
    ones += (i % 16).toString(16);
  }
  return [`${" ".repeat(indent)}${tens}`, `${" ".repeat(indent)}${ones}`];
}

export function drawLayout(k: Kernel, letters = new Letters()): string[] {
  const indent = 6;
  const lines = ruler(k.world.vpnLimit, indent);
  for (const mm of k.mms.values()) {
    let row = "";
    let at = 0;
    for (const vma of mm.vmas) {
      row += ".".repeat(Math.max(0, vma.vmStart - at));
      const l = letters.of(vma);
      for (let a = vma.vmStart; a < vma.vmEnd; a++) {
        const pte = mm.pt.get(a);
        row += pte === undefined ? l.toLowerCase() : pte.kind === "swap" ? "~" : l;
      }
      at = vma.vmEnd;
    }
    row += ".".repeat(Math.max(0, k.world.vpnLimit - at));
    lines.push(`${`mm${mm.id}`.padEnd(indent)}${row}`);
  }
  return lines;
}

/** The legend for a picture: each letter's vma with its flags, file and pgoff. */
export function legend(k: Kernel, letters: Letters): string[] {
  const out: string[] = [];
  for (const mm of k.mms.values()) {
    for (const vma of mm.vmas) {
      const kind = vma.vmFile ? `${vma.vmFlags & 0x8 ? "shared" : "private"} file${vma.vmFile.id}` : "anon";
      const prot = vma.vmFlags & 0x2 ? "rw" : "r";
      const lock = vma.vmFlags & 0x2000 ? " locked" : "";
      out.push(`${letters.of(vma)} = mm${mm.id} [0x${vma.vmStart.toString(16)}, 0x${vma.vmEnd.toString(16)}) ${kind} ${prot}${lock} pgoff ${vma.vmPgoff}`);
    }
  }
  return out;
}
