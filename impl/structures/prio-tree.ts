/*
 * A radix priority search tree: the i_mmap structure of Linux 2.6.7 to 3.6 (mm/prio_tree.c, later
 * lib/prio_tree.c; Rajesh Venkatasubramanian, 2004, after E. M. McCreight, "Priority search
 * trees", SIAM J. Comput. 14(2), 1985). Replaced in 3.7 by the interval tree (6b2dbba8b6ac).
 *
 * Each vma is the closed interval [radix, heap] = [vm_pgoff, vm_pgoff + pages - 1]
 * (kernel: RADIX_INDEX / HEAP_INDEX). The tree is at once
 *   - a max-heap on heap (ties: the smaller radix sits higher), and
 *   - a radix tree on radix: at depth d < indexBits a node's children split on bit
 *     (indexBits - 1 - d) of radix, so every node below a position shares that position's
 *     radix prefix. Past indexBits levels all radix bits are spent, and the nodes below share
 *     one radix; they split on the bits of the size (heap - radix), from bit BITS_PER_LONG - 1 down
 *     (the kernel's "size_level").
 * indexBits grows so that 2^indexBits - 1 covers the largest heap (prio_tree_expand); it never
 * shrinks except back to 1 when the tree empties.
 *
 * A query for [first, last] wants radix <= last and heap >= first: the heap order prunes every
 * subtree whose top ends before `first`, the radix order every right subtree that starts after
 * `last`, so a query examines O(height + k) nodes, height <= indexBits + size levels.
 *
 * Vmas with identical [radix, heap] share one tree node (kernel: the vm_set list hanging off the
 * node's vma, vma_prio_tree_add()); the node's first item is the vma embedded in the tree, the
 * rest are its vm_set list. nodeCount() <= size().
 *
 * The kernel's raw prio tree re-reads the indices from the vma at every comparison; a node here
 * CACHES them, so a vma changed in place (primer D4) shows as I11 in check() instead of as a
 * silently mis-ordered heap.
 *
 * Structural invariants (check(), assert id KERNEL unless noted):
 *   1. heap order: a parent's (heap, -radix) is greater than each child's;
 *   2. radix order: each node lies under the position its radix bits (then size bits) select;
 *   3. every heap <= 2^indexBits - 1; indexBits = 1 when the tree is empty;
 *   4. no two nodes carry the same [radix, heap]; parent pointers agree with child pointers;
 *   5. the item → node map holds exactly the items on the nodes;
 *   6. (I11) every item's cached [radix, heap] equals key(item) now.
 */
import { assert } from "../assert.js";
import type { Interval, Visit } from "./interval-tree.js";

/** The size bits a subtree of one radix may split on (kernel: BITS_PER_LONG; LP64 here). */
const BITS_PER_LONG = 64;

interface PNode<T> {
  /** items[0] is the vma embedded in the tree; items[1..] its vm_set list, insertion order. */
  readonly items: T[];
  readonly radix: number;
  readonly heap: number;
  left: PNode<T> | null;
  right: PNode<T> | null;
  parent: PNode<T> | null;
}

/** Bit `mask` (a power of two) of a non-negative integer up to 2^53, without 32-bit JS bit ops. */
const bitSet = (index: number, mask: number): boolean => Math.floor(index / mask) % 2 === 1;
const maxIndex = (bits: number): number => 2 ** bits - 1; // kernel: prio_tree_maxindex()
/** Does a belong above b in the heap? (kernel: h < heap || (h == heap && r > radix)) */
const above = <T>(a: PNode<T>, b: PNode<T>): boolean => a.heap > b.heap || (a.heap === b.heap && a.radix < b.radix);

/** The position a node occupies, as the kernel's iterator tracks it (value, mask, size_level). */
interface Position {
  /** Radix prefix of the position (the whole radix once in size mode). */
  readonly value: number;
  /** Size prefix of the position (size mode only). */
  readonly sizeValue: number;
  /** The bit this position's children split on; 0 below the last size bit. */
  readonly mask: number;
  readonly sizeMode: boolean;
}

/** The position of a child; undefined when every size bit is spent (no child may exist there). */
function childPosition(pos: Position, right: boolean): Position | undefined {
  if (!pos.sizeMode) {
    const value = right ? pos.value + pos.mask : pos.value;
    if (pos.mask > 1) return { value, sizeValue: 0, mask: pos.mask / 2, sizeMode: false };
    return { value, sizeValue: 0, mask: 2 ** (BITS_PER_LONG - 1), sizeMode: true };
  }
  if (pos.mask === 0) return undefined;
  const sizeValue = right ? pos.sizeValue + pos.mask : pos.sizeValue;
  return { value: pos.value, sizeValue, mask: pos.mask > 1 ? pos.mask / 2 : 0, sizeMode: true };
}

const rootPosition = (indexBits: number): Position => ({ value: 0, sizeValue: 0, mask: 2 ** (indexBits - 1), sizeMode: false });

export class PrioTree<T> {
  private root: PNode<T> | null = null;
  /** kernel: prio_tree_root.index_bits */
  private indexBits = 1;
  private readonly nodes = new Map<T, PNode<T>>();
  private walking = 0;

  constructor(
    private readonly key: (item: T) => Interval,
    private readonly onVisit: () => void = () => {},
  ) {}

  /** kernel: vma_prio_tree_insert() = prio_tree_insert(), then vma_prio_tree_add() on a duplicate. */
  insert(item: T): void {
    assert(this.walking === 0, "KERNEL", () => `prio tree: insert of ${String(item)} during a query`, item);
    assert(!this.nodes.has(item), "KERNEL", () => `prio tree: ${String(item)} inserted twice`, item);
    const { first, last } = this.key(item);
    assert(Number.isSafeInteger(first) && first >= 0, "KERNEL", () => `prio tree: ${String(item)} has radix ${first}`, item);
    assert(Number.isSafeInteger(last) && last >= first, "KERNEL", () => `prio tree: ${String(item)} has heap ${last} < radix ${first}`, item);
    const fresh: PNode<T> = { items: [item], radix: first, heap: last, left: null, right: null, parent: null };
    const home = this.root === null || last > maxIndex(this.indexBits) ? this.expand(fresh) : this.insertNode(fresh);
    if (home !== fresh) home.items.push(item); // kernel: vma_prio_tree_add(): onto the node's vm_set
    this.nodes.set(item, home);
  }

  /** kernel: vma_prio_tree_remove(): a vm_set member leaves its list; a lone node leaves the tree. */
  remove(item: T): void {
    assert(this.walking === 0, "KERNEL", () => `prio tree: remove of ${String(item)} during a query`, item);
    const node = this.nodes.get(item);
    assert(node !== undefined, "KERNEL", () => `prio tree: ${String(item)} removed but not present`, item);
    this.nodes.delete(item);
    const i = node.items.indexOf(item);
    assert(i >= 0, "KERNEL", () => `prio tree: ${String(item)} is not on its node`, item);
    // The next vm_set vma takes the node's place in the tree (prio_tree_replace()): same position.
    if (node.items.length > 1) node.items.splice(i, 1);
    else this.removeNode(node);
    if (!this.root) this.indexBits = 1; // kernel: prio_tree_remove() of the last node
  }

  /**
   * kernel: vma_prio_tree_foreach() (prio_tree_first/next + the vm_set lists): every item whose
   * cached [radix, heap] meets [first, last]. onVisit counts each node whose indices are read,
   * pruned children included, plus each further vm_set item of a matching node.
   */
  query(first: number, last: number, visit: Visit<T>): void {
    if (!this.root) return;
    this.walking++;
    try {
      this.search(this.root, rootPosition(this.indexBits), first, last, visit);
    } finally {
      this.walking--;
    }
  }

  size(): number {
    return this.nodes.size;
  }

  /** Tree nodes: fewer than size() when identical ranges share a node. */
  nodeCount(): number {
    let n = 0;
    const walk = (x: PNode<T> | null): void => {
      if (!x) return;
      n++;
      walk(x.left);
      walk(x.right);
    };
    walk(this.root);
    return n;
  }

  /** Height in nodes (0 when empty): for cost reports. */
  height(): number {
    const h = (n: PNode<T> | null): number => (n ? 1 + Math.max(h(n.left), h(n.right)) : 0);
    return h(this.root);
  }

  /** Pre-order (heap order from the top), each node's items together. */
  items(): T[] {
    const out: T[] = [];
    const walk = (n: PNode<T> | null): void => {
      if (!n) return;
      out.push(...n.items);
      walk(n.left);
      walk(n.right);
    };
    walk(this.root);
    return out;
  }

  check(): void {
    if (!this.root) {
      assert(this.indexBits === 1, "KERNEL", () => `prio tree: empty with indexBits ${this.indexBits}`);
      assert(this.nodes.size === 0, "KERNEL", () => `prio tree: empty but ${this.nodes.size} items mapped`);
      return;
    }
    assert(this.root.parent === null, "KERNEL", "prio tree: root has a parent");
    const keys = new Set<number>();
    let items = 0;
    const walk = (n: PNode<T>, pos: Position): void => {
      const what = () => `node [${n.radix}, ${n.heap}] (${n.items.map(String).join(", ")})`;
      assert(n.items.length > 0, "KERNEL", () => `prio tree: ${what()} is empty`);
      assert(n.heap <= maxIndex(this.indexBits), "KERNEL", () => `prio tree: ${what()} beyond maxindex ${maxIndex(this.indexBits)}`);
      const k = n.radix * 4096 + n.heap;
      assert(!keys.has(k), "KERNEL", () => `prio tree: two nodes carry [${n.radix},${n.heap}]`, ...n.items);
      keys.add(k);
      this.checkPosition(n, pos, what);
      for (const item of n.items) {
        items++;
        assert(this.nodes.get(item) === n, "KERNEL", () => `prio tree: ${String(item)} is not mapped to its ${what()}`, item);
        const now = this.key(item);
        assert(now.first === n.radix, "I11", () => `prio tree: ${String(item)} sits at radix ${n.radix} but starts at ${now.first} now`, item);
        assert(now.last === n.heap, "I11", () => `prio tree: ${String(item)} sits at heap ${n.heap} but ends at ${now.last} now`, item);
      }
      for (const right of [false, true]) {
        const c = right ? n.right : n.left;
        if (!c) continue;
        assert(c.parent === n, "KERNEL", () => `prio tree: a child of ${what()} has a wrong parent pointer`, ...c.items);
        assert(above(n, c), "KERNEL", () => `prio tree: heap order broken under ${what()}`, ...n.items, ...c.items);
        const cpos = childPosition(pos, right);
        assert(cpos !== undefined, "KERNEL", () => `prio tree: ${what()} has a child below the last size bit`);
        walk(c, cpos);
      }
    };
    walk(this.root, rootPosition(this.indexBits));
    assert(items === this.nodes.size, "KERNEL", () => `prio tree: ${items} items on nodes, ${this.nodes.size} in the map`);
  }

  /** Radix (then size) prefix of node n must match the position it sits at. */
  private checkPosition(n: PNode<T>, pos: Position, what: () => string): void {
    if (!pos.sizeMode) {
      const span = pos.mask * 2;
      assert(Math.floor(n.radix / span) === Math.floor(pos.value / span), "KERNEL", () => `prio tree: ${what()} off its radix path (prefix ${pos.value}/${span})`, ...n.items);
      return;
    }
    assert(n.radix === pos.value, "KERNEL", () => `prio tree: ${what()} in the size levels of radix ${pos.value}`, ...n.items);
    const span = pos.mask === 0 ? 1 : pos.mask * 2;
    const size = n.heap - n.radix;
    assert(Math.floor(size / span) === Math.floor(pos.sizeValue / span), "KERNEL", () => `prio tree: ${what()} off its size path`, ...n.items);
  }

  /**
   * kernel: prio_tree_insert(). Descend by radix bits (then size bits); a node of higher priority
   * than the one met takes its place and the displaced node continues down. Returns the node
   * now holding the key: `fresh`, or an existing node with the identical range.
   */
  private insertNode(fresh: PNode<T>): PNode<T> {
    let node = fresh;
    let cur = this.root;
    let pos = rootPosition(this.indexBits);
    while (cur) {
      if (cur.radix === node.radix && cur.heap === node.heap) {
        assert(node === fresh, "KERNEL", "prio tree: a displaced node meets its own key");
        return cur;
      }
      if (above(node, cur)) {
        this.replace(cur, node);
        [node, cur] = [cur, node];
      }
      assert(pos.mask > 0, "KERNEL", "prio tree: ran out of size bits", ...node.items);
      const right = bitSet(pos.sizeMode ? node.heap - node.radix : node.radix, pos.mask);
      const child = right ? cur.right : cur.left;
      if (!child) {
        if (right) cur.right = node;
        else cur.left = node;
        node.parent = cur;
        return fresh;
      }
      cur = child;
      pos = childPosition(pos, right) as Position;
    }
    assert(false, "KERNEL", "prio tree: insert fell off the tree");
  }

  /**
   * kernel: prio_tree_expand(). The new node's heap needs more index bits. Every old radix is
   * below 2^oldBits, so each added bit is 0 for all old nodes: the old tree slides down-left one
   * level per bit. The new node becomes the root; for every bit beyond the first the old root is
   * popped into a left chain under it; the rest of the old tree hangs below the chain.
   */
  private expand(node: PNode<T>): PNode<T> {
    let chainFirst: PNode<T> | null = null;
    let chainLast: PNode<T> | null = null;
    if (node.heap > maxIndex(this.indexBits)) this.indexBits++;
    while (node.heap > maxIndex(this.indexBits)) {
      this.indexBits++;
      const top = this.root;
      if (!top) continue;
      this.removeNode(top);
      if (!chainLast) chainFirst = top;
      else {
        chainLast.left = top;
        top.parent = chainLast;
      }
      chainLast = top;
    }
    const bottom = chainLast ?? node;
    if (chainFirst) {
      node.left = chainFirst;
      chainFirst.parent = node;
    }
    if (this.root) {
      bottom.left = this.root;
      this.root.parent = bottom;
    }
    node.parent = null;
    this.root = node;
    return node;
  }

  /**
   * kernel: prio_tree_remove(). Follow the higher-priority child down to a leaf, detach the leaf,
   * and move every node on that path up one level into its parent's place.
   */
  private removeNode(node: PNode<T>): void {
    const path: PNode<T>[] = [node];
    let cur = node;
    for (;;) {
      const { left, right } = cur;
      if (!left && !right) break;
      cur = left && (!right || left.heap >= right.heap) ? left : (right as PNode<T>);
      path.push(cur);
    }
    this.detach(cur);
    for (let i = path.length - 2; i >= 0; i--) this.replace(path[i] as PNode<T>, path[i + 1] as PNode<T>);
    node.left = node.right = node.parent = null;
  }

  private detach(leaf: PNode<T>): void {
    const p = leaf.parent;
    if (!p) this.root = null;
    else if (p.left === leaf) p.left = null;
    else p.right = null;
    leaf.parent = null;
  }

  /** kernel: prio_tree_replace(): nw takes old's place (parent and children); old is unlinked. */
  private replace(old: PNode<T>, nw: PNode<T>): void {
    const p = old.parent;
    if (!p) this.root = nw;
    else if (p.left === old) p.left = nw;
    else p.right = nw;
    nw.parent = p;
    nw.left = old.left;
    nw.right = old.right;
    if (nw.left) nw.left.parent = nw;
    if (nw.right) nw.right.parent = nw;
    old.left = old.right = old.parent = null;
  }

  /** Returns false when visit asked to stop. */
  private search(n: PNode<T>, pos: Position, first: number, last: number, visit: Visit<T>): boolean {
    this.onVisit();
    if (n.heap < first) return true; // the whole subtree ends before first
    if (n.radix <= last) {
      for (let i = 0; i < n.items.length; i++) {
        if (i > 0) this.onVisit(); // vma_prio_tree_next() walks the vm_set list
        if (visit(n.items[i] as T) === false) return false;
      }
    }
    if (n.left) {
      const lpos = childPosition(pos, false);
      if (lpos && !this.search(n.left, lpos, first, last, visit)) return false;
    }
    if (n.right) {
      const rpos = childPosition(pos, true);
      // Every radix in the right subtree is >= its position's value (the whole radix in size mode).
      if (rpos && rpos.value <= last && !this.search(n.right, rpos, first, last, visit)) return false;
    }
    return true;
  }
}
