import type { LowerEntry } from './lookup.js';

/**
 * One name of the union the kernel knows (a node per path, as fuse-overlayfs does). Its path is
 * its parent chain, so a rename moves a whole subtree by moving one node.
 */
export interface Node {
  /** The kernel's node id (1 for the root). */
  id: number;
  parent: Node | undefined;
  /** The name in its parent, a byte string (latin1). */
  name: string;
  /** The kernel's lookup count; the node is dropped when it falls to zero. */
  nlookup: number;
  children: Map<string, Node>;
  /** S_IFMT bits. */
  type: number;
  /** It exists in the upper layer (created there, or copied up). */
  upper: boolean;
  /** The lower entry at this path, visible or hidden by the upper one (a whiteout is due on removal). */
  lower: LowerEntry | undefined;
  /** For directories: the lower listing of this path is merged in (not opaque, not moved). */
  lowerDir: boolean;
  /** Unlinked or replaced: only an fd kept for it still reaches its upper data (union.ts keepReachable). */
  detached: boolean;
  /** The st_ino reported, stable for the life of the mount (0 until first computed). */
  ino: number;
  /** Other names of this node made by link(): the kernel sees one inode, as for any hard link. */
  aliases: { parent: Node; name: string }[];
  /** Known to carry no override_stat in the upper layer (so attr() skips reading it). */
  plain: boolean;
  /** Made by this mount and given no xattr since: security.capability is known absent (asked on every write). */
  fresh: boolean;
  /** For directories, as last stat'ed: the group new entries inherit (setgid), -1 when not setgid, -2 unknown. */
  sgidGid: number;
  /** pathOf's memo, valid while no rename happened since (pathEpoch). */
  path: string;
  pathEpoch: number;
}

// Bumped whenever a node moves: memoised paths are then recomputed on demand.
let epoch = 0;
/** Invalidates every memoised path (after any rename or change of a node's name). */
export function pathsMoved(): void {
  epoch++;
}

const S_IFDIR = 0o040000;
// Only directories have children: the others share one empty map (never written: parents are directories).
const NO_CHILDREN: Map<string, Node> = new Map();

/** The table of live nodes, by kernel id. */
export class NodeTable {
  private readonly byId = new Map<number, Node>();
  private nextId = 2;
  readonly root: Node;
  /** Called when a node leaves the table (the kernel forgot it and it has no name left to keep it). */
  dropped: (n: Node) => void = () => undefined;

  constructor(rootLower: LowerEntry | undefined) {
    this.root = this.make(undefined, '', S_IFDIR, true, rootLower);
    this.root.id = 1;
    this.root.nlookup = 1;
    this.byId.clear();
    this.byId.set(1, this.root);
    this.root.lowerDir = true;
  }

  get(id: number): Node | undefined {
    return this.byId.get(id);
  }

  /** A new node under `parent` (replacing any cached child of that name). */
  make(parent: Node | undefined, name: string, type: number, upper: boolean, lower: LowerEntry | undefined): Node {
    const node: Node = {
      id: this.nextId++,
      parent,
      name,
      nlookup: 0,
      children: type === S_IFDIR ? new Map() : NO_CHILDREN,
      type,
      upper,
      lower,
      lowerDir: type === S_IFDIR && lower?.type === S_IFDIR,
      detached: false,
      ino: 0,
      aliases: [],
      plain: false,
      fresh: false,
      sgidGid: -2,
      path: '',
      pathEpoch: -1,
    };
    this.byId.set(node.id, node);
    if (parent !== undefined) {
      const old = parent.children.get(name);
      if (old !== undefined) this.detach(old);
      parent.children.set(name, node);
    }
    return node;
  }

  /** Takes a node out of the tree (unlink, rmdir, replaced by a rename). */
  detach(node: Node): void {
    node.detached = true;
    if (node.parent?.children.get(node.name) === node) node.parent.children.delete(node.name);
    if (node.nlookup === 0) this.drop(node);
  }

  /** Gives a node one more name (a hard link made through the mount). */
  addAlias(node: Node, parent: Node, name: string): void {
    const old = parent.children.get(name);
    if (old !== undefined && old !== node) this.detach(old);
    parent.children.set(name, node);
    node.aliases.push({ parent, name });
  }

  /** Removes one name of a node (unlink, or the source of a rename); detaches it at the last. */
  unname(node: Node, parent: Node, name: string): void {
    if (node.parent === parent && node.name === name) {
      const next = node.aliases.shift();
      if (next === undefined) return this.detach(node);
      if (parent.children.get(name) === node) parent.children.delete(name);
      node.parent = next.parent;
      node.name = next.name;
      pathsMoved();
      return;
    }
    node.aliases = node.aliases.filter((a) => a.parent !== parent || a.name !== name);
    if (parent.children.get(name) === node) parent.children.delete(name);
  }

  /** The kernel forgot `n` lookups. */
  forget(id: number, n: number): void {
    const node = this.byId.get(id);
    if (node === undefined || id === 1) return;
    node.nlookup -= n;
    if (node.nlookup <= 0) {
      node.nlookup = 0;
      if (node.children.size === 0) {
        // Its other names go too: a later lookup finds them on disk again, as new nodes.
        for (const n of [node, ...node.aliases])
          if (n.parent?.children.get(n.name) === node) n.parent.children.delete(n.name);
        this.drop(node);
      }
    }
  }

  private drop(node: Node): void {
    if (node.children.size !== 0 || node.nlookup !== 0) return;
    this.byId.delete(node.id);
    this.dropped(node);
  }

  /**
   * Moves a node to a new parent and name (after a rename), replacing what was there. Only that
   * one name of the replaced node goes: its other hard-link names still name it, as in the kernel.
   */
  move(node: Node, parent: Node, name: string): void {
    if (node.parent?.children.get(node.name) === node) node.parent.children.delete(node.name);
    const old = parent.children.get(name);
    if (old !== undefined && old !== node) this.unname(old, parent, name);
    node.parent = parent;
    node.name = name;
    parent.children.set(name, node);
    pathsMoved();
  }
}

/** The path of a node relative to the union's root ('' for the root). */
export function pathOf(node: Node): string {
  if (node.parent === undefined) return '';
  if (node.pathEpoch === epoch) return node.path;
  const up = pathOf(node.parent);
  node.path = up === '' ? node.name : `${up}/${node.name}`;
  node.pathEpoch = epoch;
  return node.path;
}

/** `parent/name` for a parent path. */
export function joinPath(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

/** Notes a directory's setgid group from its attributes as just stat'ed (new entries inherit it; see Node.sgidGid). */
export function noteSetgid(n: Node, mode: number, gid: number): void {
  if (n.type === S_IFDIR) n.sgidGid = (mode & 0o2000) !== 0 ? gid : -1;
}
