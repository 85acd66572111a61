/*
 * conform in THP mode (conform/thp.ts): the large-folio designs against the host's
 * transparent huge pages. The comparison itself is checked without a host (compareFolios on
 * made-up views); the host tests run where thpSupport() says the host can compare, and are
 * skipped with its one-line reason elsewhere. The sequences are the disagreements conform
 * found on Linux 6.18 while this mode was built (docs/conform.md "THP"), now agreements, and
 * one era difference (6.14 copies where 6.15+ reuses) that must stay a disagreement.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Cmd } from "../model/commands.js";
import type { DesignInfo } from "../impl/design.js";
import { findDesign } from "../impl/designs/index.js";
import { cli } from "../cli/test-helpers.js";
import { checkConformance, runCommands } from "./conform.js";
import { buildExecutor } from "./host.js";
import { compareFolios, disturbance, thpSupport } from "./thp.js";

buildExecutor({ ifStale: true });
const d615 = findDesign("anon-vma-chain+folio-6.15") as DesignInfo;
const d614 = findDesign("anon-vma-chain+folio-6.14") as DesignInfo;
const support = thpSupport(2);
const noThp = !support.ok;
const reason = support.ok ? "" : ` [skipped: ${support.why}]`;
const thp = support.ok ? { scale: support.scale } : { scale: 128 };

const anon = (addr: number, len: number, fixed = true): Cmd => ({ op: "mmap", mm: 1, addr, len, kind: "anon", prot: "rw", fixed });
const write = (mm: number, addr: number, token: number): Cmd => ({ op: "write", mm, addr, token });
const madvise = (addr: number, len: number): Cmd => ({ op: "madvise", mm: 1, addr, len, advice: "dontneed" });

describe("compareFolios: each kind of large-folio difference is reported", () => {
  const small = { folio: 0, pmd: false };
  const pmd = (folio: number) => ({ folio, pmd: true });
  const host = (folio: number, isPmd: boolean, pfn = 1) => ({ folio, pmd: isPmd, pfn });
  it("agreement, then a large folio on one side only, then PMD against PTEs, then the folio partition", () => {
    const sim = new Map([
      ["mm1:0x4", pmd(1)],
      ["mm1:0x5", pmd(1)],
      ["mm1:0x8", small],
    ]);
    const same = new Map([
      ["mm1:0x4", host(512, true)],
      ["mm1:0x5", host(512, true)],
      ["mm1:0x8", host(0, false)],
    ]);
    expect(compareFolios(sim, same)).toBeUndefined();
    expect(compareFolios(sim, new Map([...same, ["mm1:0x8", host(1024, false)]]))?.what).toMatch(/mm1:0x8 is a small page in the simulated kernel, in a large folio, mapped by PTEs on the host/);
    expect(compareFolios(sim, new Map([...same, ["mm1:0x5", host(512, false)]]))?.what).toMatch(/mapped by a PMD in the simulated kernel, in a large folio, mapped by PTEs on the host/);
    expect(compareFolios(sim, new Map([...same, ["mm1:0x5", host(1024, true)]]))?.what).toMatch(/are one large folio in the simulated kernel/);
  });
  it("counters that moved during a run are named", () => {
    expect(disturbance({ thp_collapse_alloc: 3 }, { thp_collapse_alloc: 3 })).toBeUndefined();
    expect(disturbance({ thp_collapse_alloc: 3, thp_fault_fallback: 0 }, { thp_collapse_alloc: 4, thp_fault_fallback: 0 })).toBe("thp_collapse_alloc +1");
  });
});

describe("thpSupport: a host that cannot compare says why in one line", () => {
  afterEach(() => {
    delete process.env.RMAPCHECK_THP_SYSFS;
  });
  it("a folio larger than the host's PMD", () => {
    const t = thpSupport(10);
    if (t.ok) throw new Error("order 10 cannot fit a 2 MiB PMD");
    expect(t.why).toMatch(/not a multiple of 1024 pages|cannot run|not Linux|executor/);
  });
  it("THP mode never: conform exits 2 with one line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rmapcheck-thp-"));
    writeFileSync(join(dir, "enabled"), "always madvise [never]\n");
    writeFileSync(join(dir, "hpage_pmd_size"), "2097152\n");
    process.env.RMAPCHECK_THP_SYSFS = dir;
    const r = await cli("conform", "--design", "anon-vma-chain+folio-6.15", "--runs", "1");
    expect(r.code).toBe(2);
    expect(r.err.split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/cannot compare: .*(THP mode is "never"|executor)/);
  });
});

describe("conform in THP mode against the host", () => {
  const on = (design: DesignInfo, cmds: Cmd[]) => runCommands(cmds, { design, thp });

  it.skipIf(noThp)(`a short campaign of anon-vma-chain+folio-6.15 agrees and compares large folios${reason}`, () => {
    const r = checkConformance({ design: d615, seed: 5, runs: 12, thp });
    expect(r.counterexample?.disagreement.message).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.compared.largeFolioPages ?? 0).toBeGreaterThan(0);
    expect(r.compared.pmdMappedPages ?? 0).toBeGreaterThan(0);
  }, 120_000);

  it.skipIf(noThp)(`the disagreements found while building it agree now${reason}`, () => {
    // A PTE table left by a split PMD: no THP at the next fault (impl/folio-pgtable.ts).
    expect(on(d615, [anon(16, 8, false), write(1, 18, 1), madvise(16, 2), madvise(18, 2), write(1, 17, 9)]).disagreement).toBeUndefined();
    // The PMD holding the folio's only reference is reused at COW (do_huge_pmd_wp_page).
    const fork: Cmd = { op: "fork", mm: 1, child: 2 };
    const exit: Cmd = { op: "exit", mm: 2 };
    const reuse = [anon(4, 4), write(1, 5, 3), fork, exit, write(1, 6, 5)];
    expect(on(d615, reuse).disagreement).toBeUndefined();
    expect(on(d614, reuse).disagreement).toBeUndefined();
    // A COW copied only the written 4 KiB page of a 512 KiB model page on the host: the rest
    // of mm1's unit still mapped the folio, so mm8's PMD was not its only reference. The
    // executor now write-faults every host page of the unit (seed 3, 14 commands).
    const m = (mm: number) => ({ mm });
    const seed3: Cmd[] = [
      { op: "mmap", mm: 1, addr: 0x1c, len: 4, kind: "anon", prot: "rw", fixed: false },
      write(1, 0x1d, 0),
      { op: "fork", ...m(1), child: 2 },
      { op: "fork", ...m(2), child: 3 },
      write(1, 0x1e, 2),
      { op: "exit", ...m(2) },
      write(1, 0x1d, 6),
      write(1, 0x1c, 7),
      { op: "munmap", mm: 1, addr: 0x1f, len: 1 },
      { op: "fork", ...m(3), child: 4 },
      { op: "exit", ...m(3) },
      { op: "fork", ...m(4), child: 8 },
      { op: "mmap", mm: 4, addr: 0x1c, len: 4, kind: "anon", prot: "r", fixed: true },
      write(8, 0x1f, 19),
    ];
    expect(on(d615, seed3).disagreement).toBeUndefined();
  }, 60_000);

  it.skipIf(noThp)(`6.14 copies a page of an exclusively mapped PTE-mapped folio where the host (6.15+) reuses it${reason}`, () => {
    // 1da190f4d0a6 (6.15): COW reuse of PTE-mapped THP. The host is 6.18: 6.14 is of another era.
    const seq: Cmd[] = [anon(4, 4), write(1, 4, 3), { op: "fork", mm: 1, child: 3 }, { op: "munmap", mm: 1, addr: 1, len: 4 }, { op: "exit", mm: 3 }, write(1, 5, 5)];
    const v = on(d614, seq);
    expect(v.disagreement?.kind).toBe("sharing");
    expect(v.disagreement?.message).toMatch(/mm1:0x5 is a small page in the simulated kernel, in a large folio, mapped by PTEs on the host/);
    expect(on(d615, seq).disagreement).toBeUndefined();
  }, 60_000);
});
