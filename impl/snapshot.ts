/*
 * A design's reverse map as data: nodes and edges, for `rmapcheck view` (the step-by-step page)
 * and for tests that look at a design's structures without its private fields.
 *
 * A design's snapshot() describes only its own structures (anon_vmas, chains, anonmm
 * families, pte_chains, hints) and the pointers from pages and vmas into them. The objects
 * every design shares (mms, vmas, pages, files and their i_mmap) are described once by
 * `kernelGraph` below, so a design refers to them by the ids this file hands out:
 * `vmaNode(vma)`, `pageNode(page)`, `mmNode(mm)`, `fileNode(file)`.
 *
 * A snapshot must never throw on a broken state (it is drawn at the step where an invariant
 * fails): a pointer to a freed object becomes a node of kind "freed" (never touched again,
 * see impl/assert.ts poisoning), and it reads no counters a walk would bump.
 */
import { freedAt, isFreed } from "./assert.js";
import type { Kernel } from "./kernel.js";
import { type File, type Mm, type Page, type Vma, hexa } from "./types.js";

/** What a node is; the viewer lays kinds out in rows (mm, vma, rmap objects, pages). */
export type RmapNodeKind =
  | "mm"
  | "vma"
  | "file"
  | "page"
  | "anon_vma"
  | "anonmm"
  | "pte_chain"
  | "freed";

export interface RmapNode {
  /** Stable across steps for the same kernel object (vma#7, page:3, anon_vma:2...). */
  readonly id: string;
  readonly kind: RmapNodeKind;
  /** A short label, in kernel words ("anon_vma #3"). */
  readonly label: string;
  /** The fields a reviewer wants on hover ("degree 1, refcount 2"). */
  readonly detail?: string;
}

/** What an edge is (the pointer or list it draws). */
export type RmapEdgeKind =
  /** mm → its vmas (mm->mmap). */
  | "mmap"
  /** file → a vma on its i_mmap. */
  | "i_mmap"
  /** page → its page->mapping (file, anon_vma, anonmm, or a vma for a PageDirect page). */
  | "mapping"
  /** vma → vma->anon_vma. */
  | "anon_vma"
  /** vma → an anon_vma on its chain (an anon_vma_chain object, drawn as an edge). */
  | "avc"
  /** anon_vma → a vma on its head list (2.6.7, the RFC). */
  | "head"
  /** anon_vma → its parent; anon_vma → its root (anon-vma-chain). */
  | "parent"
  | "root"
  /** anonmm → its family's head; anonmm → its mm. */
  | "family"
  | "anonmm_mm"
  /** page → its pte_chain; pte_chain (or a PageDirect page) → the vma of each PTE it holds. */
  | "pte"
  /** page → the vma of its hint PTE (hint-map). */
  | "hint";

export interface RmapEdge {
  readonly source: string;
  readonly target: string;
  readonly kind: RmapEdgeKind;
  /** e.g. the PTE's address of a pte_chain entry ("0x1f"). */
  readonly label?: string;
}

export interface RmapGraph {
  readonly nodes: RmapNode[];
  readonly edges: RmapEdge[];
}

export const mmNode = (mm: Mm | number): string => `mm${typeof mm === "number" ? mm : mm.id}`;
export const vmaNode = (vma: Vma): string => `vma#${vma.oid}`;
export const pageNode = (page: Page): string => `page:${page.pfn}`;
export const fileNode = (file: File): string => `file${file.id}`;

/** A builder that keeps node ids unique and turns pointers to freed objects into "freed" nodes. */
export class GraphBuilder {
  private readonly nodes = new Map<string, RmapNode>();
  private readonly edges: RmapEdge[] = [];
  private readonly freedIds = new Map<object, string>();

  node(id: string, kind: RmapNodeKind, label: string, detail?: string): string {
    if (!this.nodes.has(id)) this.nodes.set(id, detail === undefined ? { id, kind, label } : { id, kind, label, detail });
    return id;
  }

  edge(source: string, target: string, kind: RmapEdgeKind, label?: string): void {
    this.edges.push(label === undefined ? { source, target, kind } : { source, target, kind, label });
  }

  /**
   * The node of a pointer that may be freed: `live(obj)` names it while it is live; a freed
   * one gets a "freed" node ("freed <what>") saying where it was freed (use-after-free, I4).
   */
  pointer<T extends object>(obj: T, live: (obj: T) => string, what = "object"): string {
    if (!isFreed(obj)) return live(obj);
    let id = this.freedIds.get(obj);
    if (id === undefined) {
      id = `freed:${this.freedIds.size + 1}`;
      this.freedIds.set(obj, id);
      this.node(id, "freed", `freed ${what}`, `freed at ${freedAt(obj)}`);
    }
    return id;
  }

  /** A vma pointer (a PageDirect page's mapping may outlive its vma). */
  vma(vma: Vma): string {
    return this.pointer(vma, (v) => vmaNode(v), "vma");
  }

  build(): RmapGraph {
    return { nodes: [...this.nodes.values()], edges: this.edges };
  }
}

/**
 * The 2004 anon_vma (2.6.7 and Andrea's RFC): each live anon_vma with its head list of vmas,
 * and each vma's ->anon_vma. Returns the node of an anon_vma pointer (freed ones included),
 * for the design's page->mapping edges.
 */
export function anonVmaHeads(
  g: GraphBuilder,
  live: Iterable<{ readonly id: number; readonly head: readonly Vma[] }>,
  k: Kernel,
): (av: { readonly id: number; readonly head: readonly Vma[] }) => string {
  const avNode = (av: { readonly id: number; readonly head: readonly Vma[] }): string =>
    g.pointer(av, (a) => g.node(`anon_vma:${a.id}`, "anon_vma", `anon_vma #${a.id}`, `head: ${a.head.length} vmas`), "anon_vma");
  for (const av of live) {
    const me = avNode(av);
    if (!isFreed(av)) for (const vma of av.head) g.edge(me, g.vma(vma), "head");
  }
  for (const mm of k.mms.values()) {
    for (const vma of mm.vmas) if (vma.anonVma !== null) g.edge(vmaNode(vma), avNode(vma.anonVma as { id: number; head: Vma[] }), "anon_vma");
  }
  return avNode;
}

const protOf = (vma: Vma): string => (vma.vmFlags & 0x2 ? "rw" : "r");

/** A vma's label: its id and mm (its range is in the detail). */
export function vmaLabel(vma: Vma): string {
  return `vma#${vma.oid} mm${vma.mm.id}`;
}

/**
 * What every design shares: mms and their vmas, the pages mapped or cached, files and their
 * i_mmap (the structure the design chose: list, prio tree or interval tree).
 */
export function kernelGraph(k: Kernel, g: GraphBuilder = new GraphBuilder()): GraphBuilder {
  for (const mm of k.mms.values()) {
    g.node(mmNode(mm), "mm", `mm${mm.id}`, `${mm.vmas.length} vmas, ${mm.pt.size} PTEs`);
    for (const vma of mm.vmas) {
      const what = vma.vmFile ? `${vma.vmFlags & 0x8 ? "shared" : "private"} file${vma.vmFile.id}` : "anon";
      g.node(vmaNode(vma), "vma", vmaLabel(vma), `[${hexa(vma.vmStart)}, ${hexa(vma.vmEnd)}) ${what} ${protOf(vma)}, pgoff ${vma.vmPgoff}`);
      g.edge(mmNode(mm), vmaNode(vma), "mmap");
    }
  }
  for (const file of k.files) {
    const onIMmap = iMmapItems(file);
    if (onIMmap.length === 0 && file.pageCache.size === 0) continue;
    g.node(fileNode(file), "file", `file${file.id}`, `size ${file.size} pages, ${file.pageCache.size} cached, i_mmap ${onIMmap.length} vmas`);
    for (const vma of onIMmap) g.edge(fileNode(file), g.vma(vma), "i_mmap", `pgoff ${vma.vmPgoff}`);
  }
  for (const page of k.frames) {
    if (page === null || (page.mapcount === 0 && page.mapping === null)) continue;
    const what = page.anon ? "anon" : page.file ? `file${page.file.id}@${page.index}` : "";
    g.node(pageNode(page), "page", `pfn ${page.pfn}`, `${what}, index ${page.index}, mapcount ${page.mapcount}, count ${page.count}`);
    if (!page.anon && page.file) g.edge(pageNode(page), fileNode(page.file), "mapping");
  }
  return g;
}

/** The vmas on a file's i_mmap, without counting a walk (a structure may not list its items). */
function iMmapItems(file: File): Vma[] {
  const m = file.iMmap;
  if (m.items) return m.items();
  const out: Vma[] = [];
  m.query(0, Number.MAX_SAFE_INTEGER, (vma) => {
    out.push(vma);
    return true;
  });
  return out;
}

/** The whole graph of a kernel and its design (kernelGraph + design.snapshot()). */
export function rmapGraph(k: Kernel): RmapGraph {
  const g = kernelGraph(k);
  k.design.snapshot?.(g);
  return g.build();
}
