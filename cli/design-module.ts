/*
 * A user's own designs, loaded from a JavaScript module (`--design-module ./my-design.js`):
 * every export that is a DesignInfo (the default export, a `designs` array, or any named
 * export) joins the built-in designs under its own name for this process. Worker threads load
 * the same modules again (a ChunkJob carries their paths), so a campaign runs them anywhere.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import type { DesignInfo } from "../impl/design.js";
import { designs, findDesign } from "../impl/designs/index.js";
import { UsageError } from "./errors.js";

/** The shape a design must have; `create` is checked to be a function, not called. */
const designInfoShape = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "a design name is lowercase letters, digits, '.', '_' or '-' (no '/')"),
  era: z.string(),
  summary: z.string(),
  mutants: z.array(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "a mutant name is lowercase letters, digits, '.', '_' or '-'")).optional(),
  create: z.custom<DesignInfo["create"]>((v) => typeof v === "function", "create must be a function (kernel, mutant?) => RmapDesign"),
});

const userDesigns = new Map<string, { design: DesignInfo; module: string }>();
const loadedModules = new Map<string, DesignInfo[]>();

/** A built-in design or one loaded from a design module. */
export function lookupDesign(name: string): DesignInfo | undefined {
  return findDesign(name) ?? userDesigns.get(name)?.design;
}

/** Every design this process knows: built-in first, then the loaded modules' in load order. */
export function knownDesigns(): DesignInfo[] {
  return [...designs, ...[...userDesigns.values()].map((u) => u.design)];
}

/** Does this value look like an attempt at a design (so a shape error is worth reporting)? */
const looksLikeDesign = (v: unknown): boolean => typeof v === "object" && v !== null && "create" in v && "name" in v;

/** The designs a module exports: its default export, a `designs` array, named exports. */
function designsIn(mod: Record<string, unknown>, path: string): DesignInfo[] {
  const candidates: [string, unknown][] = [];
  for (const [key, value] of Object.entries(mod)) {
    if (Array.isArray(value)) value.forEach((v, i) => void candidates.push([`${key}[${i}]`, v]));
    else candidates.push([key, value]);
  }
  const found = new Map<string, DesignInfo>();
  for (const [key, value] of candidates) {
    if (!looksLikeDesign(value)) continue;
    const parsed = designInfoShape.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UsageError(`design module ${path}: export '${key}' is not a valid design: ${issue?.path.join(".") || "(design)"}: ${issue?.message}`);
    }
    const design = value as DesignInfo;
    const seen = found.get(design.name);
    if (seen && seen !== design) throw new UsageError(`design module ${path}: two different designs are named '${design.name}'`);
    found.set(design.name, design);
  }
  if (found.size === 0) {
    throw new UsageError(`design module ${path} exports no rmapcheck design (export a DesignInfo {name, era, summary, create}; see docs/api.md)`);
  }
  return [...found.values()];
}

/** Load design modules (paths relative to the working directory) and register their designs. */
export async function loadDesignModules(paths: readonly string[]): Promise<DesignInfo[]> {
  const out: DesignInfo[] = [];
  for (const given of paths) {
    const path = resolve(given);
    const cached = loadedModules.get(path);
    if (cached) {
      out.push(...cached);
      continue;
    }
    if (!existsSync(path)) throw new UsageError(`design module ${given}: no such file`);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new UsageError(`design module ${given}: cannot be loaded (${why.split("\n")[0]})`);
    }
    const list = designsIn(mod, given);
    for (const d of list) {
      if (findDesign(d.name)) throw new UsageError(`design module ${given}: design '${d.name}' has the name of a built-in design; rename it`);
      const other = userDesigns.get(d.name);
      if (other && other.design !== d) throw new UsageError(`design module ${given}: design '${d.name}' is also exported by ${other.module}`);
      userDesigns.set(d.name, { design: d, module: given });
    }
    loadedModules.set(path, list);
    out.push(...list);
  }
  return out;
}

/** Absolute paths, for worker threads (whose working directory is the same, but be explicit). */
export const absoluteModules = (paths: readonly string[]): string[] => paths.map((p) => resolve(p));
