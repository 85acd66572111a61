import type { DesignInfo } from "../impl/design.js";
import { catalogue } from "../impl/mutants/catalogue.js";
import { knownDesigns, lookupDesign } from "./design-module.js";
import { UsageError } from "./errors.js";

export interface DesignSpec {
  readonly design: DesignInfo;
  readonly mutant?: string;
  /** Kernel quirks: `DESIGN+QUIRK` names a catalogue entry's planted bug in mm/ (B8, H7, B11, …). */
  readonly quirks?: readonly string[];
  /** "design" or "design/mutant", as the user wrote it. */
  readonly label: string;
}

/** "anon-vma" or "anon-vma/some-mutant" → the design (and mutant), or a one-line error. */
export function resolveDesign(spec: string): DesignSpec {
  const [name, mutant, ...rest] = spec.split("/");
  // `anon-vma-chain+need-rmap-locks-false`: a design with a kernel quirk, as the hunt names it.
  const plus = name && !lookupDesign(name) ? name.lastIndexOf("+") : -1;
  if (name && plus > 0 && mutant === undefined && rest.length === 0) {
    const quirk = name.slice(plus + 1);
    const base = lookupDesign(name.slice(0, plus));
    if (base && knownQuirks().includes(quirk)) return { design: base, quirks: [quirk], label: spec };
  }
  const design = lookupDesign(name ?? "");
  if (!design || rest.length > 0) {
    throw new UsageError(`unknown design '${spec}' (known: ${knownDesigns().map((d) => d.name).join(", ")}; see 'rmapcheck designs')`);
  }
  if (mutant !== undefined && !(design.mutants ?? []).includes(mutant)) {
    const known = (design.mutants ?? []).join(", ") || "none";
    throw new UsageError(`design '${design.name}' has no mutant '${mutant}' (its mutants: ${known})`);
  }
  return { design, mutant, label: spec };
}

/** The kernel quirks the catalogue plants (impl/mutants/catalogue.ts). */
function knownQuirks(): string[] {
  return [...new Set(catalogue.flatMap((e) => e.quirks ?? []))];
}
