/*
 * The design registry: every design rmapcheck knows, in kernel-history order.
 * Adding a design: write impl/designs/NAME.ts exporting a DesignInfo, and list it here.
 *
 * i_mmap variants: objrmap and the anon_vma designs take the structure their address_space
 * keeps i_mmap in as a parameter — a list (2.4 to 2.6.6), the priority search tree (2.6.7 to
 * 3.6) or the interval tree (3.7+). The variants below are the same designs with a tree; the
 * D4 mutant "no-reinsert-on-adjust" (a vma whose range changes is not re-inserted) belongs to
 * the objrmap tree variants.
 */
import type { DesignInfo } from "../design.js";
import { IMmapIntervalTree, IMmapPrioTree, iMmapTreeMutants } from "../structures/immap-trees.js";
import { anonVmaChain, anonVmaChain319, anonVmaChain616 } from "./anon-vma-chain.js";
import { anonVmaRfc } from "./anon-vma-rfc.js";
import { anonVma, makeAnonVma } from "./anon-vma.js";
import { anonmm } from "./anonmm.js";
import { makeFolioDesign } from "./folio.js";
import { hintMap } from "./hint-map.js";
import { makeObjrmap, objrmap } from "./objrmap.js";
import { pteChain } from "./pte-chain.js";
import { scan } from "./scan.js";

const treeMutant = (m?: string) => (m === "no-reinsert-on-adjust" ? { mutant: m as "no-reinsert-on-adjust" } : {});

export const objrmapPrioTree = makeObjrmap(
  "objrmap-prio-tree",
  (k, m) => new IMmapPrioTree(() => k.counters.vmasVisited++, treeMutant(m)),
  { iMmapMutants: iMmapTreeMutants, era: "2.6.7–3.6 (i_mmap prio tree)" },
);
export const objrmapIntervalTree = makeObjrmap(
  "objrmap-interval-tree",
  (k, m) => new IMmapIntervalTree(() => k.counters.vmasVisited++, treeMutant(m)),
  { iMmapMutants: iMmapTreeMutants, era: "3.7+ (i_mmap interval tree)" },
);
/** 2.6.7 as merged kept i_mmap in a priority search tree. */
export const anonVmaPrioTree = makeAnonVma("anon-vma-prio-tree", (onVisit) => new IMmapPrioTree(onVisit));

export const designs: readonly DesignInfo[] = [
  scan,
  hintMap,
  pteChain,
  objrmap,
  objrmapPrioTree,
  objrmapIntervalTree,
  anonmm,
  anonVmaRfc,
  anonVma,
  anonVmaPrioTree,
  anonVmaChain,
  anonVmaChain319,
  anonVmaChain616,
  makeFolioDesign(anonVmaChain, "per-page", "6.14"),
  makeFolioDesign(anonVmaChain, "no-page-mapcount", "6.15"),
  makeFolioDesign(anonVmaChain, "per-page", "6.14", true),
  makeFolioDesign(anonVmaChain, "no-page-mapcount", "6.15", true),
];

export function findDesign(name: string): DesignInfo | undefined {
  return designs.find((d) => d.name === name);
}
