import type { Cli } from 'clipanion';
import { END_OF_INPUT, NODE_INITIAL } from 'clipanion/lib/constants.js';
import {
  CliBuilder,
  makeAnyOfMachine,
  runMachineInternal,
  selectBestState,
  simplifyMachine,
  type StateMachine,
} from 'clipanion/lib/core.js';

/**
 * clipanion's parser, its work done only where a command line goes. clipanion compiles the
 * registered commands into one state machine on every parse, then removes its shortcut
 * transitions (`simplifyMachine`): each node reached by a shortcut gets a copy of the transitions
 * of the nodes the shortcut leads to. `run` has ~80 options, and each option taking a value ends
 * in a node whose shortcut leads back to the option list: ~250 nodes, 480 transitions copied into
 * ~12,000, a tenth of a `hutch run`'s CPU (30-45 ms), of which a parse reads a dozen nodes.
 *
 * Here the walk that decides what each node copies, and from which state of the node copied (as
 * it was, or already simplified), is done at once (it is small: the shortcuts); each node's copy
 * is made the first time the parse reads the node. Same transitions, in the same order, as
 * clipanion's: test/unit/cli/parser.test.ts holds the machines equal, and the parses and errors.
 */
export function useLazyParser(cli: Cli): void {
  const builder = (cli as unknown as { builder: CliBuilder<unknown> }).builder;
  // The machine's reducers must be those of the core the Cli's options read (NoLimits is a
  // symbol of that module): two copies of clipanion would parse a rest argument wrongly.
  if (!(builder instanceof CliBuilder))
    throw new Error(
      "hutch's parser (src/cli/parser.ts) loaded another copy of clipanion's lib/core than its Cli: both must resolve to the CommonJS build",
    );
  const clipanions = builder.compile.bind(builder);
  // Shell completion (`suggest`, which hutch does not offer) is left to clipanion's own compile:
  // core.js does not export what it runs.
  builder.compile = () => ({ ...compile(builder), suggest: (input, partial) => clipanions().suggest(input, partial) });
}

type Machine = StateMachine;
type Node = Machine['nodes'][number];
type Transition = Node['shortcuts'][number];
type Dynamic = Node['dynamics'][number];

/** CliBuilder.compile (clipanion 3.2.1, lib/core.js), with simplifyLazily for simplifyMachine. */
function compile(builder: CliBuilder<unknown>): Omit<ReturnType<CliBuilder<unknown>['compile']>, 'suggest'> {
  const machines: Machine[] = [];
  const contexts: unknown[] = [];
  for (const command of (builder as unknown as { builders: { compile(): { machine: Machine; context: unknown } }[] })
    .builders) {
    const { machine, context } = command.compile();
    machines.push(machine);
    contexts.push(context);
  }
  const machine = simplifyLazily(makeAnyOfMachine(machines));
  return {
    machine,
    contexts,
    process: (input: string[]) =>
      selectBestState(
        input,
        runMachineInternal(machine, [...input, END_OF_INPUT]).map((branch) => branch.state),
      ),
  };
}

/** A copy a node makes in simplifyMachine: of `from`'s transitions as they were, or simplified. */
interface Copy {
  from: number;
  simplified: boolean;
}

/**
 * simplifyMachine's result, each node's transitions made when first read. clipanion's walk: from
 * the initial node, depth first, a node's children first, then its shortcuts replaced by the
 * transitions of their targets as they are at that moment (each target's own shortcuts followed
 * too), skipping a static transition to a node the segment already leads to and a dynamic one with
 * the same test (by identity) and target. A target is then either untouched (not yet simplified,
 * or on the walk's stack, which simplifies a node only after its children) or simplified: the
 * walk records which. A node shortcut to itself would copy itself half-done: clipanion's
 * own then (its commands make none).
 */
export function simplifyLazily(input: Machine): Machine {
  const nodes = input.nodes;
  const copies = new Map<number, Copy[]>();
  const simplified = new Set<number>();
  const visited = new Set<number>();
  let selfShortcut = false;
  const visit = (node: number): void => {
    if (visited.has(node)) return;
    visited.add(node);
    const def = nodes[node]!;
    // Index loops: this runs cold, where V8 interprets each iterator and destructuring step.
    for (const transitions of Object.values(def.statics))
      for (let i = 0; i < transitions.length; i++) visit(transitions[i]!.to);
    for (let i = 0; i < def.dynamics.length; i++) visit(def.dynamics[i]![1].to);
    for (let i = 0; i < def.shortcuts.length; i++) visit(def.shortcuts[i]!.to);
    const queue = def.shortcuts.map(({ to }) => to);
    const queued = new Set(queue);
    const made: Copy[] = [];
    for (let i = 0; i < queue.length; i++) {
      const from = queue[i]!;
      if (from === node) selfShortcut = true;
      made.push({ from, simplified: simplified.has(from) });
      // A simplified node has no shortcuts left; an untouched one has its own.
      if (!simplified.has(from))
        for (const { to } of nodes[from]!.shortcuts) {
          if (!queued.has(to)) {
            queue.push(to);
            queued.add(to);
          }
        }
    }
    if (made.length > 0) copies.set(node, made);
    simplified.add(node);
  };
  visit(NODE_INITIAL);
  if (selfShortcut) {
    simplifyMachine(input);
    return input;
  }

  const done = new Map<number, Node>();
  const final = (node: number): Node => {
    let def = done.get(node);
    if (def === undefined && !copies.has(node)) return nodes[node]!;
    if (def === undefined) {
      def = merged(nodes[node]!, copies.get(node) ?? [], (from, simplified) =>
        simplified ? final(from) : nodes[from]!,
      );
      done.set(node, def);
    }
    return def;
  };
  return { nodes: nodes.map((def, node) => (copies.has(node) ? new LazyNode(() => final(node)) : def)) };
}

/** A node's transitions after its copies, in simplifyMachine's order; `own` is left as it is. */
function merged(own: Node, copies: Copy[], source: (from: number, simplified: boolean) => Node): Node {
  const statics: Node['statics'] = {};
  const staticTargets = new Map<string, Set<number>>();
  for (const [segment, transitions] of Object.entries(own.statics)) {
    statics[segment] = [...transitions];
    staticTargets.set(segment, new Set(transitions.map((t) => t.to)));
  }
  const dynamics: Dynamic[] = [...own.dynamics];
  const dynamicTargets = new Map<unknown, Set<number>>();
  for (let i = 0; i < dynamics.length; i++) added(dynamicTargets, dynamics[i]![0], dynamics[i]![1].to);
  for (const { from, simplified } of copies) {
    const def = source(from, simplified);
    for (const [segment, transitions] of Object.entries(def.statics)) {
      let targets = staticTargets.get(segment);
      if (targets === undefined) {
        statics[segment] = [];
        staticTargets.set(segment, (targets = new Set()));
      }
      for (const transition of transitions) {
        if (!targets.has(transition.to)) {
          statics[segment]!.push(transition);
          targets.add(transition.to);
        }
      }
    }
    for (let i = 0; i < def.dynamics.length; i++) {
      const dynamic = def.dynamics[i]!;
      const test = dynamic[0],
        transition = dynamic[1];
      if (added(dynamicTargets, test, transition.to)) dynamics.push([test, transition]);
    }
  }
  return { statics, dynamics, shortcuts: [] as Transition[] };
}

/** Adds `to` to the set of `key`; false when it was there. */
function added(sets: Map<unknown, Set<number>>, key: unknown, to: number): boolean {
  let set = sets.get(key);
  if (set === undefined) sets.set(key, (set = new Set()));
  if (set.has(to)) return false;
  set.add(to);
  return true;
}

/** A node whose transitions are made when first read (runMachineInternal reads these three). */
class LazyNode implements Node {
  #made: Node | undefined;
  constructor(private readonly make: () => Node) {}
  get statics(): Node['statics'] {
    return (this.#made ??= this.make()).statics;
  }
  get dynamics(): Dynamic[] {
    return (this.#made ??= this.make()).dynamics;
  }
  get shortcuts(): Transition[] {
    return (this.#made ??= this.make()).shortcuts;
  }
}
