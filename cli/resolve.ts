import type { DesignInfo } from "../impl/design.js";
import { knownDesigns, lookupDesign } from "./design-module.js";
import { UsageError } from "./errors.js";

export interface DesignSpec {
  readonly design: DesignInfo;
  readonly mutant?: string;
  /** "design" or "design/mutant", as the user wrote it. */
  readonly label: string;
}

/** "anon-vma" or "anon-vma/some-mutant" → the design (and mutant), or a one-line error. */
export function resolveDesign(spec: string): DesignSpec {
  const [name, mutant, ...rest] = spec.split("/");
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
