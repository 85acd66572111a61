/*
 * An augmented red-black interval tree: the idea of Linux 3.7+ include/linux/interval_tree_generic.h
 * (Michel Lespinasse, 6b2dbba8b6ac "mm: replace vma prio_tree with an interval tree", 3.7, 2012).
 * The kernel instantiates it for i_mmap (vma_interval_tree, keyed by [vm_pgoff, last pgoff]) and
 * for anon_vma->rb_root (anon_vma_interval_tree, keyed by the avc's vma's range).
 *
 * Nodes are ordered by `first`; equal firsts keep insertion order (the kernel sends an equal
 * start to the right). Each node also keeps `subtreeLast`, the largest `last` in its subtree
 * (kernel: rb_subtree_last), so a query can skip every subtree that ends before it starts: a
 * query costs O(log n + k) node examinations on disjoint intervals, where a list costs n.
 *
 * Unlike the kernel, which re-reads the endpoints from the vma at every comparison, a node here
 * CACHES the key it was inserted with. A vma whose range changes while it sits in the tree
 * therefore leaves a node whose cached key differs from the vma: check() reports exactly that as
 * I11, where the kernel would silently have a mis-ordered tree (primer D4).
 *
 * Structural invariants (check(), assert id KERNEL unless noted):
 *   1. the root is black; a red node has no red child;
 *   2. every root-to-leaf path holds the same number of black nodes;
 *   3. in-order (first, seq) strictly increases; parent pointers agree with child pointers;
 *   4. subtreeLast = max(last, left.subtreeLast, right.subtreeLast);
 *   5. every node is in the item → node map and the map holds nothing else;
 *   6. (I11) each node's cached [first, last] equals key(item) now.
 *
 * Nothing may insert or remove while a query runs (the kernel holds i_mmap_rwsem for the walk).
 */
import { assert, fail } from "../assert.js";

export interface Interval {
  readonly first: number;
  readonly last: number;
}

/**
 * How the tree reads an item's key as it is now: two functions rather than one returning an
 * Interval, so that check(), which reads every key after every step, allocates nothing.
 */
export interface KeyOf<T> {
  first(item: T): number;
  last(item: T): number;
}

/** A query's visitor: returning false stops the walk (nothing, or true, goes on). */
// biome-ignore lint/suspicious/noConfusingVoidType: visitors written as statements return void
export type Visit<T> = (item: T) => boolean | undefined | void;

interface Node<T> {
  readonly item: T;
  /** Cached key (kernel: ITSTART / ITLAST, vma_start_pgoff() / vma_last_pgoff()). */
  readonly first: number;
  readonly last: number;
  /** Insertion order: breaks ties between equal firsts. */
  readonly seq: number;
  /** max(last) over this subtree (kernel: rb_subtree_last). */
  subtreeLast: number;
  red: boolean;
  left: Node<T> | null;
  right: Node<T> | null;
  parent: Node<T> | null;
}

const isRed = <T>(n: Node<T> | null): boolean => n?.red === true;
const before = <T>(a: Node<T>, b: Node<T>): boolean => a.first < b.first || (a.first === b.first && a.seq < b.seq);

function subtreeLastOf<T>(n: Node<T>): number {
  let m = n.last;
  if (n.left && n.left.subtreeLast > m) m = n.left.subtreeLast;
  if (n.right && n.right.subtreeLast > m) m = n.right.subtreeLast;
  return m;
}

/** A child the red-black rules say must exist; its absence is a broken tree. */
function must<T>(n: Node<T> | null, what: string): Node<T> {
  assert(n !== null, "KERNEL", () => `interval tree: ${what} missing`);
  return n;
}

export class IntervalTree<T> {
  private root: Node<T> | null = null;
  private readonly nodes = new Map<T, Node<T>>();
  private nextSeq = 0;
  /** Queries in progress: the tree must not change under them. */
  private walking = 0;

  constructor(
    private readonly key: KeyOf<T>,
    private readonly onVisit: () => void = () => {},
  ) {}

  /** kernel: INTERVAL_TREE_DEFINE's _insert(): descend by start, raising subtree_last on the way. */
  insert(item: T): void {
    assert(this.walking === 0, "KERNEL", () => `interval tree: insert of ${String(item)} during a query`, item);
    assert(!this.nodes.has(item), "KERNEL", () => `interval tree: ${String(item)} inserted twice`, item);
    const first = this.key.first(item);
    const last = this.key.last(item);
    const z: Node<T> = { item, first, last, seq: this.nextSeq++, subtreeLast: last, red: true, left: null, right: null, parent: null };
    let parent: Node<T> | null = null;
    let cur = this.root;
    let goLeft = false;
    while (cur) {
      parent = cur;
      if (cur.subtreeLast < last) cur.subtreeLast = last;
      goLeft = before(z, cur);
      cur = goLeft ? cur.left : cur.right;
    }
    z.parent = parent;
    if (!parent) this.root = z;
    else if (goLeft) parent.left = z;
    else parent.right = z;
    this.nodes.set(item, z);
    this.insertFixup(z);
  }

  /** kernel: _remove() → rb_erase_augmented(): a real red-black delete with augment fix-up. */
  remove(item: T): void {
    assert(this.walking === 0, "KERNEL", () => `interval tree: remove of ${String(item)} during a query`, item);
    const z = this.nodes.get(item);
    assert(z !== undefined, "KERNEL", () => `interval tree: ${String(item)} removed but not present`, item);
    this.nodes.delete(item);
    let x: Node<T> | null;
    let xParent: Node<T> | null;
    let removedBlack: boolean;
    /** The lowest node whose subtree changed: subtreeLast is recomputed from it to the root. */
    let fixFrom: Node<T> | null;
    if (!z.left || !z.right) {
      x = z.left ?? z.right;
      xParent = z.parent;
      removedBlack = !z.red;
      this.transplant(z, x);
      fixFrom = z.parent;
    } else {
      let y: Node<T> = z.right;
      while (y.left) y = y.left;
      removedBlack = !y.red;
      x = y.right;
      if (y.parent === z) {
        xParent = y;
      } else {
        xParent = y.parent;
        this.transplant(y, y.right);
        y.right = z.right;
        y.right.parent = y;
      }
      fixFrom = xParent;
      this.transplant(z, y);
      y.left = z.left;
      y.left.parent = y;
      y.red = z.red;
    }
    for (let n = fixFrom; n; n = n.parent) n.subtreeLast = subtreeLastOf(n);
    if (removedBlack) this.deleteFixup(x, xParent);
    z.left = z.right = z.parent = null;
  }

  /**
   * kernel: _iter_first() / _iter_next() (interval_tree_subtree_search): every item whose cached
   * [first, last] meets [first, last], in order of first. onVisit counts each node whose fields
   * are read, pruned children included, so the walk cost is measurable.
   */
  query(first: number, last: number, visit: Visit<T>): void {
    if (!this.root) return;
    this.walking++;
    try {
      this.search(this.root, first, last, visit);
    } finally {
      this.walking--;
    }
  }

  size(): number {
    return this.nodes.size;
  }

  /** In order of (first, insertion). */
  items(): T[] {
    return this.collect([]);
  }

  /** Height in nodes (0 when empty): for cost reports. */
  height(): number {
    const h = (n: Node<T> | null): number => (n ? 1 + Math.max(h(n.left), h(n.right)) : 0);
    return h(this.root);
  }

  check(): void {
    if (this.root === null) {
      if (this.nodes.size !== 0) fail("KERNEL", `interval tree: 0 nodes reachable, ${this.nodes.size} in the map`);
      return;
    }
    assert(!isRed(this.root), "KERNEL", "interval tree: red root");
    assert(this.root.parent === null, "KERNEL", "interval tree: root has a parent");
    this.checkCount = 0;
    this.checkPrev = null;
    this.checkNode(this.root, null);
    this.checkPrev = null;
    assert(this.checkCount === this.nodes.size, "KERNEL", () => `interval tree: ${this.checkCount} nodes reachable, ${this.nodes.size} in the map`);
  }

  /** check()'s in-order position: nodes seen so far and the last one (scratch, per check). */
  private checkCount = 0;
  private checkPrev: Node<T> | null = null;

  /** Returns the black height of n's subtree (null leaves count 1). Messages only on failure. */
  private checkNode(n: Node<T> | null, parent: Node<T> | null): number {
    if (!n) return 1;
    if (n.parent !== parent) fail("KERNEL", `interval tree: ${String(n.item)}'s parent pointer is wrong`, n.item);
    if (this.nodes.get(n.item) !== n) fail("KERNEL", `interval tree: ${String(n.item)}'s node is not the mapped one`, n.item);
    if (n.red && (isRed(n.left) || isRed(n.right))) fail("KERNEL", `interval tree: red ${String(n.item)} has a red child`, n.item);
    const leftHeight = this.checkNode(n.left, n);
    const prev = this.checkPrev;
    if (prev && !before(prev, n)) fail("KERNEL", `interval tree: ${String(n.item)} out of order after ${String(prev.item)}`, prev.item, n.item);
    this.checkPrev = n;
    this.checkCount++;
    const first = this.key.first(n.item);
    const last = this.key.last(n.item);
    if (first !== n.first) fail("I11", `interval tree: ${String(n.item)} sits at first ${n.first} but starts at ${first} now`, n.item);
    if (last !== n.last) fail("I11", `interval tree: ${String(n.item)} sits at last ${n.last} but ends at ${last} now`, n.item);
    const rightHeight = this.checkNode(n.right, n);
    if (leftHeight !== rightHeight) fail("KERNEL", `interval tree: black heights ${leftHeight} / ${rightHeight} under ${String(n.item)}`, n.item);
    if (n.subtreeLast !== subtreeLastOf(n)) fail("KERNEL", `interval tree: ${String(n.item)}'s subtreeLast ${n.subtreeLast} ≠ ${subtreeLastOf(n)}`, n.item);
    return leftHeight + (n.red ? 0 : 1);
  }

  /** Every item in order, appended to `into` (a checker's scratch array: nothing allocated). */
  collect(into: T[]): T[] {
    this.collectFrom(this.root, into);
    return into;
  }

  private collectFrom(n: Node<T> | null, into: T[]): void {
    for (; n; n = n.right) {
      this.collectFrom(n.left, into);
      into.push(n.item);
    }
  }

  /** Returns false when visit asked to stop. */
  private search(n: Node<T>, first: number, last: number, visit: Visit<T>): boolean {
    this.onVisit();
    if (n.subtreeLast < first) return true;
    if (n.left && !this.search(n.left, first, last, visit)) return false;
    if (n.first > last) return true; // everything to the right starts later still
    if (n.last >= first && visit(n.item) === false) return false;
    return n.right ? this.search(n.right, first, last, visit) : true;
  }

  private replaceChild(parent: Node<T> | null, old: Node<T>, nw: Node<T> | null): void {
    if (!parent) this.root = nw;
    else if (parent.left === old) parent.left = nw;
    else parent.right = nw;
  }

  private transplant(u: Node<T>, v: Node<T> | null): void {
    this.replaceChild(u.parent, u, v);
    if (v) v.parent = u.parent;
  }

  /** kernel: augment_rotate: the new top takes the old top's subtreeLast; the old top recomputes. */
  private rotateLeft(x: Node<T>): void {
    const y = must(x.right, "right child in rotate");
    x.right = y.left;
    if (y.left) y.left.parent = x;
    this.transplant(x, y);
    y.left = x;
    x.parent = y;
    y.subtreeLast = x.subtreeLast;
    x.subtreeLast = subtreeLastOf(x);
  }

  private rotateRight(x: Node<T>): void {
    const y = must(x.left, "left child in rotate");
    x.left = y.right;
    if (y.right) y.right.parent = x;
    this.transplant(x, y);
    y.right = x;
    x.parent = y;
    y.subtreeLast = x.subtreeLast;
    x.subtreeLast = subtreeLastOf(x);
  }

  private insertFixup(z: Node<T>): void {
    let n = z;
    for (let p = n.parent; p?.red; p = n.parent) {
      const g = must(p.parent, "grandparent of a red parent");
      const leftSide = p === g.left;
      const uncle = leftSide ? g.right : g.left;
      if (uncle?.red) {
        p.red = false;
        uncle.red = false;
        g.red = true;
        n = g;
        continue;
      }
      if (n === (leftSide ? p.right : p.left)) {
        n = p;
        if (leftSide) this.rotateLeft(n);
        else this.rotateRight(n);
      }
      const p2 = must(n.parent, "parent after rotate");
      p2.red = false;
      g.red = true;
      if (leftSide) this.rotateRight(g);
      else this.rotateLeft(g);
    }
    if (this.root) this.root.red = false;
  }

  /** x (possibly null) carries an extra black; xParent is its parent. */
  private deleteFixup(x0: Node<T> | null, xParent0: Node<T> | null): void {
    let x = x0;
    let p = xParent0;
    while (x !== this.root && !isRed(x)) {
      const parent = must(p, "parent of a doubly black node");
      const leftSide = x === parent.left;
      let w = must(leftSide ? parent.right : parent.left, "sibling of a doubly black node");
      if (w.red) {
        w.red = false;
        parent.red = true;
        if (leftSide) this.rotateLeft(parent);
        else this.rotateRight(parent);
        w = must(leftSide ? parent.right : parent.left, "sibling after rotate");
      }
      if (!isRed(w.left) && !isRed(w.right)) {
        w.red = true;
        x = parent;
        p = parent.parent;
        continue;
      }
      if (!isRed(leftSide ? w.right : w.left)) {
        must(leftSide ? w.left : w.right, "red nephew").red = false;
        w.red = true;
        if (leftSide) this.rotateRight(w);
        else this.rotateLeft(w);
        w = must(leftSide ? parent.right : parent.left, "sibling after rotate");
      }
      w.red = parent.red;
      parent.red = false;
      must(leftSide ? w.right : w.left, "far nephew").red = false;
      if (leftSide) this.rotateLeft(parent);
      else this.rotateRight(parent);
      x = this.root;
      p = null;
    }
    if (x) x.red = false;
  }
}
