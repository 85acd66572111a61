/*
 * Interleaving mode's known answers for the per-VMA lock, fork and truncate: every schedule of
 * a few small races, exhaustively, on the correct designs (nothing breaks) and on the planted
 * bugs (some schedule breaks the invariant the catalogue names).
 *
 * Why these races? A fork of a vma that has no anon_vma yet is the case fb49c455323f is about:
 * a fault that runs anon_vma_prepare() between anon_vma_fork() (nothing to clone) and
 * copy_page_range() hands the child a PTE its vma cannot reach (H11). A truncate racing a
 * fault at a page not yet mapped is the case d00806b18315's page lock closes (H13). Walkers
 * racing fork test the order the design's walk visits parent and child in (the child after the
 * parent, or a PTE fork copies between the two visits is missed).
 */
import { describe, expect, it } from "vitest";
import { type Cmd, type Race, cmdToString } from "../model/commands.js";
import { runSequence } from "../properties/interpreter.js";
import { reportSchema } from "../properties/report-schema.js";
import { findDesign } from "./designs/index.js";

function* schedules(length: number): Generator<number[]> {
  for (let n = 0; n < 1 << length; n++) yield Array.from({ length }, (_, i) => (n >> i) & 1);
}

type W = Race["walker"];
type Scenario = (schedule: number[], walker: W) => Cmd[];
const race = (walker: W, mm: number, addr: number, schedule: number[]): Race => ({ walker, mm, addr, schedule, ...(walker === "write" ? { token: 7 } : {}) });

/** fork of a never-faulted anonymous vma, raced at its second page. */
const forkFresh: Scenario = (s, w) => [
  { op: "mmap", mm: 1, addr: 4, len: 2, kind: "anon", prot: "rw", fixed: true },
  { op: "fork", mm: 1, child: 2, race: race(w, 1, 5, s) },
  { op: "read", mm: 2, addr: 5 },
];
/** fork of a written anonymous page (a walker has a page to walk; a write breaks COW). */
const forkWritten: Scenario = (s, w) => [
  { op: "mmap", mm: 1, addr: 4, len: 2, kind: "anon", prot: "rw", fixed: true },
  { op: "write", mm: 1, addr: 5, token: 3 },
  { op: "fork", mm: 1, child: 2, race: race(w, 1, 5, s) },
  { op: "write", mm: 2, addr: 5, token: 9 },
  { op: "read", mm: 1, addr: 5 },
];
/** fork of a private file mapping read in (a present read-only file page, no anon_vma). */
const forkFile: Scenario = (s, w) => [
  { op: "mmap", mm: 1, addr: 4, len: 2, kind: "private-file", prot: "rw", fixed: true, file: 0, pgoff: 0 },
  { op: "read", mm: 1, addr: 5 },
  { op: "fork", mm: 1, child: 2, race: race(w, 1, 5, s) },
  { op: "read", mm: 2, addr: 5 },
];
/** truncate to 1 page of a shared (or private) mapping of 3, raced at its last page. */
const truncate =
  (kind: "shared-file" | "private-file", mapped: boolean): Scenario =>
  (s, w) => [
    { op: "mmap", mm: 1, addr: 4, len: 3, kind, prot: "rw", fixed: true, file: 0, pgoff: 0 },
    ...(mapped ? [{ op: "read", mm: 1, addr: 6 } as Cmd] : []),
    { op: "truncate", file: 0, size: 1, race: race(w, 1, 6, s) },
    { op: "read", mm: 1, addr: 6 },
  ];

/** The first failing schedule of `scenario` per invariant. */
function failing(design: string, scenario: Scenario, walker: W, quirks: string[] = [], length = 10): Map<string, number[]> {
  const d = findDesign(design);
  if (!d) throw new Error(design);
  const out = new Map<string, number[]>();
  for (const s of schedules(length)) {
    const r = runSequence(d, scenario(s, walker), { quirks });
    if (r.failure && !out.has(r.failure.invariant)) out.set(r.failure.invariant, s);
  }
  return out;
}

const walkers: W[] = ["write", "read", "migrate", "swapout"];

describe("interleaving mode: fork racing faults and walkers", () => {
  it("anon-vma-chain: every schedule of fork against a fault, migration or swap-out passes", () => {
    for (const scenario of [forkFresh, forkWritten, forkFile]) {
      for (const w of walkers) expect([...failing("anon-vma-chain", scenario, w, [], 9).keys()], `${w}`).toEqual([]);
    }
  });
  // The other eras: mmap_lock instead of per-VMA locks (3.19), 6.16's merge rules.
  for (const design of ["anon-vma-chain-3.19", "anon-vma-chain-6.16"]) {
    it(`${design}: every schedule of fork against a write fault or migration passes`, () => {
      for (const scenario of [forkFresh, forkWritten]) {
        for (const w of ["write", "migrate"] as W[]) expect([...failing(design, scenario, w, [], 9).keys()], `${w}`).toEqual([]);
      }
    });
  }
  it("anon-vma-chain+fork-no-vma-lock: a write fault between anon_vma_fork and the PTE copy gives the child an unreachable PTE (H11)", () => {
    expect(failing("anon-vma-chain", forkFresh, "write", ["fork-no-vma-lock"]).get("I1")).toBeDefined();
    // A read fault of untouched anonymous memory maps nothing: nothing to miss.
    expect([...failing("anon-vma-chain", forkFresh, "read", ["fork-no-vma-lock"]).keys()]).toEqual([]);
    // wp_page_copy() of a file page: the case the commit message names.
    expect(failing("anon-vma-chain", forkFile, "write", ["fork-no-vma-lock"]).get("I1")).toBeDefined();
  });
  it("without per-VMA locks (anon-vma-chain-3.19, anon-vma) the fault takes mmap_lock: the planted bug has nothing to undo", () => {
    expect([...failing("anon-vma-chain-3.19", forkFresh, "write", ["fork-no-vma-lock"]).keys()]).toEqual([]);
    expect([...failing("anon-vma", forkFresh, "write", ["fork-no-vma-lock"]).keys()]).toEqual([]);
  });
  it("anon-vma (2.6.7) links the child at the head of the anon_vma list: a walk visits it before the parent and misses the PTE fork copies in between (H8's flaw)", () => {
    expect(failing("anon-vma", forkWritten, "migrate").get("I10")).toBeDefined();
  });
  it("the fault waits for the vma fork write-locked: the child never sees a write that started after its vma was locked", () => {
    const d = findDesign("anon-vma-chain");
    if (!d) throw new Error("anon-vma-chain");
    // fork locks and copies the vma (2 steps), then the fault tries to run: it waits for mmap_write_unlock.
    const r = runSequence(d, forkFresh([0, 0, 1, 1, 1], "write"));
    expect(r.failure).toBeUndefined();
    expect(r.records[2]?.kernel).toEqual({ kind: "value", value: 0 });
    // The same fault first: the child inherits the write.
    const first = runSequence(d, forkFresh([1, 1, 1], "write"));
    expect(first.records[2]?.kernel).toEqual({ kind: "value", value: 7 });
  });
});

describe("interleaving mode: truncate racing faults and walkers", () => {
  const scenarios: [string, Scenario][] = [
    ["shared, not mapped", truncate("shared-file", false)],
    ["shared, mapped", truncate("shared-file", true)],
    ["private, not mapped", truncate("private-file", false)],
    ["private, mapped", truncate("private-file", true)],
  ];
  for (const design of ["anon-vma-chain", "anon-vma"]) {
    it(`${design}: every schedule of truncate against a fault or migration passes`, () => {
      for (const [name, scenario] of scenarios) {
        for (const w of ["write", "read", "migrate"] as W[]) expect([...failing(design, scenario, w).keys()], `${name} ${w}`).toEqual([]);
      }
    });
  }
  it("anon-vma-chain+fault-no-page-lock: a fault that checked i_size maps the page truncate removed (H13)", () => {
    for (const kind of ["shared-file", "private-file"] as const) {
      for (const w of ["read", "write"] as W[]) expect(failing("anon-vma-chain", truncate(kind, false), w, ["fault-no-page-lock"]).get("SEMANTIC"), `${kind} ${w}`).toBeDefined();
    }
  });
});

describe("interleaving mode: races on fork and truncate are command data", () => {
  it("print, and survive the shrink report's schema", () => {
    const cmds = [forkFresh([0, 1], "write")[1], truncate("shared-file", false)([1, 1], "migrate")[1]] as Cmd[];
    expect(cmds.map(cmdToString)).toEqual([
      "fork(mm1) → mm2 racing write(mm1, 0x5, 7) schedule [MW]",
      "truncate(file0, 1) racing migrate(page@mm1:0x6) schedule [WW]",
    ]);
    for (const c of cmds) expect(reportSchema.shape.commands.element.parse(c)).toEqual(c);
  });
});
