/*
 * Assertions that name the invariant they guard (STYLE item 5) and the poisoning of freed
 * simulated objects, so that a design touching freed memory is caught at the touch.
 */

/** Invariant ids of the primer's §5, plus the kernel's own sanity checks. */
export type InvariantId =
  | "I1"
  | "I2"
  | "I3"
  | "I4"
  | "I5"
  | "I6"
  | "I7"
  | "I8"
  | "I9"
  | "I10"
  | "I11"
  /** Large folios: folio, entire, per-page and MM-id mapcounts equal the brute-force mappings (docs/folios.md). */
  | "I12"
  /** Large folios: PageAnonExclusive only while one mm maps the page; maybe-mapped-shared never false while two do. */
  | "I13"
  /** Large folios: no partially mapped folio missing from the deferred split queue. */
  | "I14"
  | "KERNEL";

/** A broken invariant inside the simulated kernel or a design. */
export class InvariantError extends Error {
  constructor(
    readonly invariant: InvariantId,
    /** The message without the invariant prefix. */
    readonly detail: string,
    readonly objects: readonly unknown[] = [],
  ) {
    super(`${invariant}: ${detail}`);
    this.name = "InvariantError";
  }
}

/**
 * `message` may be a function: it is called only when the assertion fails, so the hot path
 * formats no strings (a vma's or page's toString costs more than most checks).
 */
export function assert(cond: boolean, invariant: InvariantId, message: string | (() => string), ...objects: unknown[]): asserts cond {
  if (!cond) throw new InvariantError(invariant, typeof message === "string" ? message : message(), objects);
}

/** Throw the InvariantError of a check that failed: `if (!cond) fail(...)`, for the hottest checks. */
export function fail(invariant: InvariantId, message: string, ...objects: unknown[]): never {
  throw new InvariantError(invariant, message, objects);
}

/** A freed object was touched: the simulated kernel's use-after-free (I4). */
export class UseAfterFreeError extends InvariantError {
  constructor(kind: string, freedAt: string, touched: string) {
    super("I4", `use-after-free: ${touched} of a ${kind} freed at ${freedAt}`);
    this.name = "UseAfterFreeError";
  }
}

const poisonMark = Symbol("rmapcheck.poisoned");

/**
 * Poison a freed object: every own field is deleted and the prototype is replaced by a trap,
 * so any later read, write or method call throws UseAfterFreeError naming where it was freed.
 * Live objects pay nothing.
 */
export function poison(obj: object, kind: string, freedAt: string): void {
  // Prototype first, then the fields newest-first: V8 undoes the latest property additions
  // without turning the object into a dictionary first (measured: ~25% cheaper per free).
  const keys = Object.keys(obj);
  Object.setPrototypeOf(obj, trapFor(kind, freedAt));
  for (let i = keys.length - 1; i >= 0; i--) delete (obj as Record<string, unknown>)[keys[i] as string];
}

/** One trap per (kind, freeing site): the traps hold no per-object state, so they are shared. */
const traps = new Map<string, Map<string, object>>();

function trapFor(kind: string, freedAt: string): object {
  let byWhere = traps.get(kind);
  if (!byWhere) {
    byWhere = new Map();
    traps.set(kind, byWhere);
  }
  let trap = byWhere.get(freedAt);
  if (!trap) {
    trap = new Proxy(
      {},
      {
        get(_t, prop) {
          if (prop === poisonMark) return freedAt;
          if (typeof prop === "symbol") return undefined;
          throw new UseAfterFreeError(kind, freedAt, `read of .${prop}`);
        },
        set(_t, prop) {
          throw new UseAfterFreeError(kind, freedAt, `write of .${String(prop)}`);
        },
        has(_t, prop) {
          if (prop === poisonMark) return true;
          throw new UseAfterFreeError(kind, freedAt, `test of .${String(prop)}`);
        },
      },
    );
    // Freeing sites are a fixed set of literals, except a few that name the object; bound the
    // cache so those cannot grow it without limit over a long campaign.
    if (byWhere.size < 4096) byWhere.set(freedAt, trap);
  }
  return trap;
}

/** Where a poisoned object was freed, or undefined while it is live. Never throws. */
export function freedAt(obj: object): string | undefined {
  return Reflect.get(obj, poisonMark) as string | undefined;
}

export const isFreed = (obj: object): boolean => freedAt(obj) !== undefined;
