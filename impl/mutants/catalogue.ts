/*
 * The mutant catalogue: each entry reintroduces one known bug — a design-level weakness from
 * primer §6 or a real kernel bug — as a planted one-line change of a design (its `mutants`
 * list) or of the kernel (Kernel.quirks), with its story and its known minimal sequence as
 * data. `rmapcheck hunt` searches for each one at random, without this sequence; the sequence
 * itself runs as a known-answer test (fails on the mutant, passes on the correct design).
 */
import type { Cmd } from "../../model/commands.js";

export interface MutantEntry {
  /** Primer id (D1–D4, B1, B4, B5, B9) or H1… for bugs from the kernel's history. */
  readonly id: string;
  /** The design the bug lives in, as `rmapcheck run --design` names it. */
  readonly design: string;
  /** The design's planted mutant, if the bug is a one-line change of the design. */
  readonly mutant?: string;
  /** Kernel quirks (impl/kernel.ts), if the bug is in mm/ rather than the rmap design. */
  readonly quirks?: readonly string[];
  /** The correct design the known sequence must pass on. */
  readonly correct: string;
  readonly title: string;
  /** Kernel commit, CVE or seed, and what the bug did. */
  readonly story: string;
  /** The invariants that may catch it first. */
  readonly invariants: readonly string[];
  /** A known short sequence that exposes it (hand-written or shrunk once and kept). */
  readonly minimal: readonly Cmd[];
  /** Found fast enough to hunt in `npm test`. */
  readonly quick: boolean;
}

const anon = (mm: number, addr: number, len: number): Cmd => ({ op: "mmap", mm, addr, len, kind: "anon", prot: "rw", fixed: true });

export const catalogue: MutantEntry[] = [
  {
    id: "P0",
    design: "scan",
    mutant: "skip-newest-mm",
    correct: "scan",
    title: "scan's walk skips the newest mm",
    story: "A planted bug (no kernel history): the brute-force walk forgets the most recently forked process.",
    invariants: ["I1"],
    minimal: [anon(1, 1, 1), { op: "write", mm: 1, addr: 1, token: 1 }, { op: "fork", mm: 1, child: 2 }],
    quick: true,
  },
];

export const findMutant = (name: string): MutantEntry | undefined =>
  catalogue.find((m) => m.id === name || mutantLabel(m) === name);

/** How hunt and reports name an entry: design/mutant, or design+quirk. */
export function mutantLabel(m: MutantEntry): string {
  if (m.mutant) return `${m.design}/${m.mutant}`;
  if (m.quirks && m.quirks.length > 0) return `${m.design}+${m.quirks.join("+")}`;
  return m.design;
}
