/*
 * Every design's snapshot (impl/snapshot.ts), on one known scenario, drawn:
 *
 *   page   1 2 3 4
 *   mm1    A . B C      A = anon rw, written (pfn X); B = shared file0@0, read; C = private file1@0, written (COW)
 *   mm2    A . B C      fork of mm1: A and C still map mm1's pages (COW-shared), B the page cache's
 *
 * Each design must describe its own structures for that state: who points at what is the
 * design's walk drawn as data, so the expectations below are the design headers' "how the walk
 * finds the PTEs". Common to all: every edge joins two nodes, the kernel's part (mms, vmas,
 * files, i_mmap, pages) is there, and taking a snapshot counts no work and changes nothing.
 */
import { describe, expect, it } from "vitest";
import type { Cmd } from "../model/commands.js";
import { Session } from "../properties/interpreter.js";
import type { DesignInfo } from "./design.js";
import { designs } from "./designs/index.js";
import { type RmapGraph, rmapGraph } from "./snapshot.js";

const scenario: Cmd[] = [
  { op: "mmap", mm: 1, addr: 1, len: 1, kind: "anon", prot: "rw", fixed: true },
  { op: "write", mm: 1, addr: 1, token: 7 },
  { op: "mmap", mm: 1, addr: 3, len: 1, kind: "shared-file", prot: "rw", fixed: true, file: 0, pgoff: 0 },
  { op: "read", mm: 1, addr: 3 },
  { op: "mmap", mm: 1, addr: 4, len: 1, kind: "private-file", prot: "rw", fixed: true, file: 1, pgoff: 0 },
  { op: "write", mm: 1, addr: 4, token: 8 },
  { op: "fork", mm: 1, child: 2 },
];

function run(design: DesignInfo): { graph: RmapGraph; session: Session } {
  const session = new Session(design);
  for (const cmd of scenario) {
    const r = session.apply(cmd);
    expect(r.violation, `${design.name}: ${r.violation?.message}`).toBeUndefined();
    expect(r.record.kernel.kind, `${design.name}: ${JSON.stringify(r.record)}`).not.toBe("skip");
  }
  return { graph: rmapGraph(session.kernel), session };
}

const targets = (g: RmapGraph, source: string, kind: string): string[] =>
  g.edges
    .filter((e) => e.source === source && e.kind === kind)
    .map((e) => e.target)
    .sort();
const ofKind = (g: RmapGraph, kind: string) => g.nodes.filter((n) => n.kind === kind);

/** The anon page both mms map at 0x1, and the vma ids at 0x1 in mm1 and mm2. */
function anonPlace(s: Session): { page: string; vma1: string; vma2: string } {
  const pte = s.kernel.mms.get(1)?.pt.get(1);
  if (pte?.kind !== "present") throw new Error("mm1:0x1 not present");
  const vmaAt = (mm: number) => `vma#${s.kernel.mms.get(mm)?.vmas.find((v) => v.vmStart === 1)?.oid}`;
  return { page: `page:${pte.pfn}`, vma1: vmaAt(1), vma2: vmaAt(2) };
}

describe.each(designs.map((d) => [d.name, d] as const))("snapshot of %s", (_name, design) => {
  it("implements snapshot(); every edge joins two nodes; ids are unique", () => {
    expect(design.create(new Session(design).kernel).snapshot).toBeTypeOf("function");
    const { graph } = run(design);
    const ids = new Set(graph.nodes.map((n) => n.id));
    expect(ids.size).toBe(graph.nodes.length);
    for (const e of graph.edges) {
      expect(ids.has(e.source), `${e.source} of ${e.kind}`).toBe(true);
      expect(ids.has(e.target), `${e.target} of ${e.kind}`).toBe(true);
    }
  });

  it("shows the kernel's part: two mms with three vmas each, both file vmas on their file's i_mmap", () => {
    const { graph, session } = run(design);
    expect(ofKind(graph, "mm").map((n) => n.id)).toEqual(["mm1", "mm2"]);
    expect(targets(graph, "mm1", "mmap")).toHaveLength(3);
    expect(targets(graph, "mm2", "mmap")).toHaveLength(3);
    const fileVmas = (file: number) =>
      [...session.kernel.mms.values()]
        .flatMap((mm) => mm.vmas)
        .filter((v) => v.vmFile?.id === file)
        .map((v) => `vma#${v.oid}`)
        .sort();
    expect(targets(graph, "file0", "i_mmap")).toEqual(fileVmas(0));
    expect(targets(graph, "file1", "i_mmap")).toEqual(fileVmas(1));
    // three pages: the anon page, file0's cached page, and mm1's COW copy of file1@0
    // (plus file1@0 itself, cached and unmapped: its mapping keeps it on the graph)
    expect(ofKind(graph, "page").length).toBeGreaterThanOrEqual(3);
  });

  it("counts no work and changes nothing", () => {
    const { session } = run(design);
    const before = JSON.stringify(session.kernel.counters);
    const first = JSON.stringify(rmapGraph(session.kernel));
    expect(JSON.stringify(session.kernel.counters)).toBe(before);
    expect(JSON.stringify(rmapGraph(session.kernel))).toBe(first);
    expect(session.checkNow()).toBeUndefined();
  });
});

describe("each design draws its own walk", () => {
  const by = (name: string) => {
    const d = designs.find((x) => x.name === name);
    if (!d) throw new Error(name);
    return run(d);
  };

  it("scan: no structures of its own", () => {
    const { graph } = by("scan");
    expect(new Set(graph.nodes.map((n) => n.kind))).toEqual(new Set(["mm", "vma", "file", "page"]));
    expect(new Set(graph.edges.map((e) => e.kind))).toEqual(new Set(["mmap", "i_mmap", "mapping"]));
  });

  it("pte-chain: the shared anon page's chain holds both PTEs", () => {
    const { graph, session } = by("pte-chain");
    const { page, vma1, vma2 } = anonPlace(session);
    const [chain] = targets(graph, page, "pte");
    expect(chain).toMatch(/^pte_chain:/);
    expect(targets(graph, chain as string, "pte")).toEqual([vma1, vma2].sort());
    expect(graph.edges.find((e) => e.source === chain && e.target === vma2)?.label).toBe("mm2:0x1");
  });

  it("objrmap: anon pages keep pte_chains, file pages only i_mmap", () => {
    const { graph, session } = by("objrmap");
    const { page, vma1, vma2 } = anonPlace(session);
    const [chain] = targets(graph, page, "pte");
    expect(targets(graph, chain as string, "pte")).toEqual([vma1, vma2].sort());
    const filePages = ofKind(graph, "page").filter((n) => targets(graph, n.id, "mapping").some((t) => t.startsWith("file")));
    expect(filePages.length).toBeGreaterThan(0);
    for (const p of filePages) expect(targets(graph, p.id, "pte")).toEqual([]);
  });

  it("hint-map: a hint names one PTE of each exclusive page", () => {
    const { graph } = by("hint-map");
    const hints = graph.edges.filter((e) => e.kind === "hint");
    expect(hints.length).toBeGreaterThan(0);
    for (const h of hints) expect(h.label).toMatch(/^mm\d:0x[0-9a-f]+/);
  });

  it("anonmm: one family, mm2's anonmm joined to mm1's head, the page homed at mm1's", () => {
    const { graph, session } = by("anonmm");
    const am = ofKind(graph, "anonmm");
    expect(am).toHaveLength(2);
    const head = am.find((n) => targets(graph, n.id, "anonmm_mm")[0] === "mm1")?.id;
    const child = am.find((n) => targets(graph, n.id, "anonmm_mm")[0] === "mm2")?.id;
    expect(targets(graph, child as string, "family")).toEqual([head]);
    expect(targets(graph, anonPlace(session).page, "mapping")).toEqual([head]);
  });

  it("anon-vma: one anon_vma whose head lists both vmas", () => {
    const { graph, session } = by("anon-vma");
    const { page, vma1, vma2 } = anonPlace(session);
    const [av] = targets(graph, page, "mapping");
    expect(targets(graph, av as string, "head")).toEqual([vma1, vma2].sort());
    expect(targets(graph, vma2, "anon_vma")).toEqual([av]);
  });

  it("anon-vma-rfc: the fork made an anon_vma that both vmas are on; the page points to it", () => {
    const { graph, session } = by("anon-vma-rfc");
    const { page, vma1, vma2 } = anonPlace(session);
    const [av] = targets(graph, page, "mapping");
    expect(av).toMatch(/^anon_vma:/);
    expect(targets(graph, av as string, "head")).toEqual([vma1, vma2].sort());
  });

  it("anon-vma-chain: the child's anon_vma has the parent's as parent; the child vma's chain holds both", () => {
    const { graph, session } = by("anon-vma-chain");
    const { page, vma1, vma2 } = anonPlace(session);
    const [root] = targets(graph, page, "mapping");
    const [own] = targets(graph, vma2, "anon_vma");
    expect(own).not.toBe(root);
    expect(targets(graph, own as string, "parent")).toEqual([root]);
    expect(targets(graph, vma2, "avc")).toEqual([root, own].sort());
    expect(targets(graph, vma1, "avc")).toEqual([root]);
    expect(graph.nodes.find((n) => n.id === own)?.detail).toMatch(/num_active_vmas 1/);
  });
});
