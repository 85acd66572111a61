/*
 * What the large-folio known-answer tests share (impl/folio*.test.ts): the designs, command
 * builders, a session that must stay clean, and a look into the folio layer. Test code only
 * (left out of the build, tsconfig.build.json).
 */
import { expect } from "vitest";
import { type Cmd, cmdToString } from "../model/commands.js";
import { Session } from "../properties/interpreter.js";
import type { DesignInfo } from "./design.js";
import { findDesign } from "./designs/index.js";
import type { Folio, FolioLayer } from "./folio.js";
import type { Mm } from "./types.js";

export const design = (name: string): DesignInfo => {
  const d = findDesign(name);
  if (!d) throw new Error(name);
  return d;
};
export const d614 = design("anon-vma-chain+folio-6.14");
export const d615 = design("anon-vma-chain+folio-6.15");

export const anon = (mm: number, addr: number, len: number): Cmd => ({ op: "mmap", mm, addr, len, kind: "anon", prot: "rw", fixed: true });
/** A fixed mapping of file 0 at page offset pgoff. */
export const fileMap = (mm: number, addr: number, len: number, pgoff: number, shared = true, prot: "r" | "rw" = "rw"): Cmd => ({
  op: "mmap",
  mm,
  addr,
  len,
  kind: shared ? "shared-file" : "private-file",
  prot,
  fixed: true,
  file: 0,
  pgoff,
});
export const write = (mm: number, addr: number, token: number): Cmd => ({ op: "write", mm, addr, token });
export const read = (mm: number, addr: number): Cmd => ({ op: "read", mm, addr });
export const fork = (mm: number, child: number): Cmd => ({ op: "fork", mm, child });
export const exit = (mm: number): Cmd => ({ op: "exit", mm });
export const munmap = (mm: number, addr: number, len: number): Cmd => ({ op: "munmap", mm, addr, len });
export const mprotect = (mm: number, addr: number, len: number, prot: "r" | "rw"): Cmd => ({ op: "mprotect", mm, addr, len, prot });
export const madvise = (mm: number, addr: number, len: number): Cmd => ({ op: "madvise", mm, addr, len, advice: "dontneed" }) as Cmd;
export const mremapTo = (mm: number, addr: number, len: number, newAddr: number): Cmd => ({
  op: "mremap",
  mm,
  addr,
  len,
  newLen: len,
  maymove: true,
  fixed: true,
  newAddr,
});
export const swapout = (mm: number, addr: number): Cmd => ({ op: "swapout", mm, addr });
export const migrate = (mm: number, addr: number): Cmd => ({ op: "migrate", mm, addr });
export const reclaim = (pages: number): Cmd => ({ op: "reclaim", pages });
/** Truncate file 0. */
export const truncate = (size: number): Cmd => ({ op: "truncate", file: 0, size });

/** A session of d that applies cmds, each of which must keep every check. */
export function session(d: DesignInfo, cmds: readonly Cmd[], mutant?: string): Session {
  const s = new Session(d, { mutant });
  for (const cmd of cmds) {
    const r = s.apply(cmd);
    expect(r.violation, `${cmdToString(cmd)}: ${r.violation?.message}`).toBeUndefined();
  }
  return s;
}

export const layer = (s: Session): FolioLayer => {
  const l = s.kernel.folio;
  if (!l) throw new Error("no folio layer");
  return l;
};
export const mmOf = (s: Session, id: number): Mm => {
  const mm = s.kernel.mms.get(id);
  if (!mm) throw new Error(`no mm${id}`);
  return mm;
};
/** The folio of the page mapped at mm:addr, if it has one. */
export const folioAt = (s: Session, mm: number, addr: number): Folio | undefined => {
  const pte = s.kernel.mms.get(mm)?.pt.get(addr);
  const page = pte?.kind === "present" ? s.kernel.pageAt(pte.pfn) : undefined;
  return page ? layer(s).folioOf.get(page) : undefined;
};
/** The folio of the page mapped at mm:addr, which must have one. */
export const theFolioAt = (s: Session, mm: number, addr: number): Folio => {
  const f = folioAt(s, mm, addr);
  if (!f) throw new Error(`no folio at mm${mm}:${addr}`);
  return f;
};
