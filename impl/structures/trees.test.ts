/*
 * One differential property suite for both i_mmap trees (IntervalTree, PrioTree), run against a
 * naive list: random sequences of insert / remove / change-key-with-reinsert / query, with
 * check() after every operation and every query's answer compared, as a set, with the list's.
 *
 * Keys are drawn mostly from a small domain (0..15, lengths 1..4) so that equal starts and
 * identical ranges (the prio tree's shared vm_set nodes) are common, and sometimes from a large
 * one (up to 5000) so the prio tree's index_bits grow by several bits at once (prio_tree_expand).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvariantError } from "../assert.js";
import { type Interval, IntervalTree, type KeyOf, type Visit } from "./interval-tree.js";
import { PrioTree } from "./prio-tree.js";

/** A mutable keyed item, as a vma is: the tree must be told before its key changes. */
interface Item {
  readonly id: number;
  first: number;
  last: number;
}
const itemKey = (it: Item): Interval => ({ first: it.first, last: it.last });
const itemKeyOf: KeyOf<Item> = { first: (it) => it.first, last: (it) => it.last };

interface Tree {
  insert(item: Item): void;
  remove(item: Item): void;
  query(first: number, last: number, visit: Visit<Item>): void;
  size(): number;
  items(): Item[];
  check(): void;
}

const trees: { name: string; make: (onVisit?: () => void) => Tree }[] = [
  { name: "IntervalTree", make: (onVisit) => new IntervalTree<Item>(itemKeyOf, onVisit) },
  { name: "PrioTree", make: (onVisit) => new PrioTree<Item>(itemKey, onVisit) },
];

type Op =
  | { kind: "insert"; first: number; len: number }
  | { kind: "remove"; pick: number }
  | { kind: "change"; pick: number; first: number; len: number }
  | { kind: "query"; first: number; len: number };

const opsMax = 120;
const coord = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 15 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 5000 }) });
const length = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }) });
const pick = fc.nat({ max: 1000 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("insert" as const), first: coord, len: length }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("change" as const), pick, first: coord, len: length }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("query" as const), first: coord, len: length }) },
);

/** Dense: a tiny domain, so one radix gathers many sizes and the prio tree reaches its size levels. */
const denseCoord = fc.integer({ min: 0, max: 7 });
const denseLength = fc.integer({ min: 1, max: 9 });
const denseOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("insert" as const), first: denseCoord, len: denseLength }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("remove" as const), pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("change" as const), pick, first: denseCoord, len: denseLength }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("query" as const), first: denseCoord, len: denseLength }) },
);

const ids = (items: Item[]) => items.map((i) => i.id).sort((a, b) => a - b);

function runOps(tree: Tree, ops: Op[]): void {
  const model: Item[] = [];
  let nextId = 1;
  for (const o of ops) {
    if (o.kind === "insert") {
      const item = { id: nextId++, first: o.first, last: o.first + o.len - 1 };
      tree.insert(item);
      model.push(item);
    } else if (o.kind === "remove" && model.length > 0) {
      const [item] = model.splice(o.pick % model.length, 1);
      tree.remove(item as Item);
    } else if (o.kind === "change" && model.length > 0) {
      const item = model[o.pick % model.length] as Item;
      tree.remove(item);
      item.first = o.first;
      item.last = o.first + o.len - 1;
      tree.insert(item);
    } else if (o.kind === "query") {
      const last = o.first + o.len - 1;
      const got: Item[] = [];
      tree.query(o.first, last, (item) => {
        got.push(item);
      });
      const want = model.filter((i) => i.first <= last && i.last >= o.first);
      expect(ids(got)).toEqual(ids(want));
    }
    tree.check();
    expect(tree.size()).toBe(model.length);
    expect(ids(tree.items())).toEqual(ids(model));
  }
}

describe.each(trees)("$name", ({ name, make }) => {
  it(`${name}: random insert/remove/change/query sequences agree with a list, check() after every op`, () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: opsMax }), (ops) => runOps(make(), ops)),
      { seed: 20040510, numRuns: 400 },
    );
  });

  it(`${name}: a second seed`, () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: opsMax }), (ops) => runOps(make(), ops)),
      { seed: 2012, numRuns: 400 },
    );
  });

  it(`${name}: dense keys (many equal starts and identical ranges)`, () => {
    fc.assert(
      fc.property(fc.array(denseOp, { minLength: 60, maxLength: opsMax }), (ops) => runOps(make(), ops)),
      { seed: 36, numRuns: 80 },
    );
  });

  it(`${name}: grows and drains 500 items in a fixed pseudo-random order`, () => {
    const tree = make();
    const items: Item[] = [];
    let x = 12345;
    const next = () => {
      x = (x * 1103515245 + 12345) % 2 ** 31; // a fixed LCG: deterministic, no Math.random
      return x;
    };
    for (let i = 0; i < 500; i++) {
      const first = next() % 2000;
      const item = { id: i, first, last: first + (next() % 50) };
      items.push(item);
      tree.insert(item);
    }
    tree.check();
    while (items.length > 0) {
      const [item] = items.splice(next() % items.length, 1);
      tree.remove(item as Item);
      if (items.length % 50 === 0) tree.check();
    }
    expect(tree.size()).toBe(0);
    tree.check();
  });

  it(`${name}: query stops when visit returns false`, () => {
    const tree = make();
    for (let i = 0; i < 10; i++) tree.insert({ id: i, first: i, last: i + 20 });
    let seen = 0;
    tree.query(0, 100, () => {
      seen++;
      return seen < 3;
    });
    expect(seen).toBe(3);
  });

  it(`${name}: check() reports I11 when a key changes without remove/insert`, () => {
    const tree = make();
    const items = [0, 1, 2, 3].map((i) => ({ id: i, first: 10 * i, last: 10 * i + 3 }));
    for (const item of items) tree.insert(item);
    tree.check();
    (items[2] as Item).first = 25; // the range moved in place: primer D4
    expect(() => tree.check()).toThrowError(expect.objectContaining({ invariant: "I11" }));
  });

  it(`${name}: removing an absent item and changing the tree during a query are kernel bugs`, () => {
    const tree = make();
    const a = { id: 1, first: 0, last: 0 };
    expect(() => tree.remove(a)).toThrowError(InvariantError);
    tree.insert(a);
    expect(() => tree.insert(a)).toThrowError(InvariantError);
    expect(() => tree.query(0, 0, () => tree.remove(a))).toThrowError(/during a query/);
    tree.remove(a); // the failed walk left the tree usable
    tree.check();
  });
});

describe("PrioTree radix and size levels", () => {
  // Radix 5 with 70 sizes (heaps up to 74: a 7-bit tree). Below the 7 radix levels the nodes of
  // one radix split on size bits from bit 63 down: small sizes have 0 there, so they form a left
  // chain ~57 deep before the low size bits split them. Nodes of other radixes sit beside.
  it("PrioTree: one radix with many sizes fills the size levels down to the low bits and is still found", () => {
    const tree = new PrioTree<Item>(itemKey);
    const items = Array.from({ length: 70 }, (_, i) => ({ id: i + 1, first: 5, last: 5 + i }));
    items.push({ id: 100, first: 0, last: 12 }, { id: 101, first: 4, last: 4 }, { id: 102, first: 6, last: 80 });
    for (const item of items) tree.insert(item);
    tree.check();
    expect(tree.height()).toBeGreaterThan(64); // past the radix levels and the all-zero size bits
    for (let q = 0; q <= 81; q++) {
      const got: Item[] = [];
      tree.query(q, q, (i) => {
        got.push(i);
      });
      expect(ids(got)).toEqual(ids(items.filter((i) => i.first <= q && i.last >= q)));
    }
    for (const item of items.filter((i) => i.id % 3 === 0)) tree.remove(item);
    tree.check();
  });
});

describe("PrioTree vm_set", () => {
  it("PrioTree: identical ranges share one node; the list's next vma takes over the node", () => {
    const tree = new PrioTree<Item>(itemKey);
    const same = [1, 2, 3, 4, 5].map((id) => ({ id, first: 7, last: 9 }));
    const other = { id: 6, first: 7, last: 12 };
    for (const item of [...same, other]) tree.insert(item);
    expect(tree.size()).toBe(6);
    expect(tree.nodeCount()).toBe(2);
    tree.check();
    tree.remove(same[0] as Item); // the vma embedded in the tree node leaves
    tree.check();
    const got: Item[] = [];
    tree.query(8, 8, (i) => {
      got.push(i);
    });
    expect(ids(got)).toEqual([2, 3, 4, 5, 6]);
    for (const item of same.slice(1)) tree.remove(item);
    expect(tree.nodeCount()).toBe(1);
    tree.check();
  });
});
