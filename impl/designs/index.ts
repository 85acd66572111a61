/*
 * The design registry: every design rmapcheck knows, in kernel-history order.
 * Adding a design: write impl/designs/NAME.ts exporting a DesignInfo, and list it here.
 */
import type { DesignInfo } from "../design.js";
import { scan } from "./scan.js";

export const designs: readonly DesignInfo[] = [scan];

export function findDesign(name: string): DesignInfo | undefined {
  return designs.find((d) => d.name === name);
}
