import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { faultPoint } from '../../sys/fault.js';
import { randomHex } from '../../sys/random.js';
import { removeContainer, startMonitor } from './lifecycle.js';
import { takeEarlyMonitor } from '../../sys/waiting-child.cjs';
import { takeDetachedReport } from '../../sys/detached-report.cjs';
import { becomeMonitor } from '../monitor/index.js';
import { releaseSetup, removeContainerDirs, removeRecord } from '../setup/index.js';
import {
  blueprintFromFlags,
  checkRootfs,
  writeEtcFiles,
  type MadeContainer,
  type RunCommandIo,
  type RunCommandRequest,
} from './foreground.js';
import { specFromBlueprint } from '../spec/index.js';
import { containerFiles, createRecord, userStore, type RestartPolicy, type RootfsSource } from '../store/index.js';

/** What `run -d` and `create` add to `run`'s flags. */
export interface CreateRequest extends RunCommandRequest {
  name?: string;
  restart: string;
  autoRemove: boolean;
}

/**
 * Makes a container record from `run`'s flags and hands it to a new monitor: `create` leaves it
 * created, `run -d` starts it. Returns the id once the monitor reports.
 */
export async function createFromFlags(req: CreateRequest, io: RunCommandIo, start: boolean): Promise<string> {
  if (req.setup?.image === undefined) checkRootfs(req.rootfs);
  const store = userStore(io.paths);
  const id = randomHex(32);
  const name = req.name ?? `hutch_${id.slice(0, 8)}`;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name))
    throw new UsageError('CONTAINER_NAME_INVALID', `invalid container name ${name}`, {
      hint: 'use letters, digits, _ . and -, starting with a letter or digit',
    });
  const restart = parseRestart(req.restart);
  if (req.autoRemove && restart.name !== 'no')
    throw new UsageError('RESTART_WITH_RM', 'cannot combine --rm with --restart', {
      hint: 'choose one: --rm removes the container when it ends, --restart runs it again',
    });
  const files = containerFiles(store, id);
  const etcFiles = {
    hosts: join(files.runDir, 'hosts'),
    hostname: join(files.runDir, 'hostname'),
    resolvConf: join(files.runDir, 'resolv.conf'),
  };
  // The monitor's Node start overlaps the image and the record (lifecycle.ts): its log is in the
  // folder. bin/hutch started one at the CLI's start (src/cli/early-monitor.cts); else one starts now.
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  // A `run -d` the run front forked is its own monitor (monitor/here.ts): no second Node start.
  const report = start ? takeDetachedReport() : undefined;
  const monitor =
    report === undefined
      ? startMonitor(store, id, start ? 'start' : 'create', undefined, takeEarlyMonitor())
      : undefined;
  let made: MadeContainer;
  try {
    // The same image, storage, network and cgroup setup as a foreground run (setup/setup.ts).
    made = await blueprintFromFlags(
      req,
      io,
      id,
      { data: files.dir, run: files.runDir },
      etcFiles,
      (line) => void io.stderr.write(line + '\n'),
    );
    const image = made.setup.squash?.file ?? req.setup?.image ?? resolve(req.rootfs);
    const rootfs: RootfsSource = made.setup.image
      ? { kind: 'image', image, imageId: made.setup.image.id }
      : { kind: 'dir', path: image };
    await createRecord(store, {
      id,
      name,
      created: new Date().toISOString(),
      rootfs,
      spec: specFromBlueprint(made.blueprint),
      blueprint: made.blueprint,
      restart,
      autoRemove: req.autoRemove,
      face: 'hutch',
      image,
      openStdin: req.interactive,
    });
  } catch (error) {
    monitor?.cancel();
    releaseSetup(files.dir, id);
    await removeContainerDirs({ data: files.dir, run: files.runDir });
    throw error;
  }
  faultPoint('recorded');
  try {
    writeEtcFiles(files.runDir, made.blueprint.hostname);
    if (report !== undefined) await becomeMonitor(store, id, files.monitorLog, report); // returns only by throwing
    const launched = await monitor!.go();
    // Once, on the CLI's stderr, as a foreground run says it (the monitor's log has them too).
    for (const line of launched.warnings) io.stderr.write(line + '\n');
  } catch (error) {
    // A container that could not be created or started leaves nothing behind.
    monitor?.cancel();
    await removeContainer(store, id, true).catch(() => removeRecord(store, id));
    throw error;
  }
  return id;
}

/** --restart=no|always|on-failure[:N] */
export function parseRestart(value: string): RestartPolicy {
  if (value === 'no' || value === '') return { name: 'no' };
  if (value === 'always' || value === 'unless-stopped') return { name: 'always' };
  const m = /^on-failure(?::(\d+))?$/.exec(value);
  if (m) return { name: 'on-failure', max: m[1] === undefined ? 0 : Number(m[1]) };
  throw new UsageError('RESTART_INVALID', `invalid --restart ${value}`, { hint: 'use no, always or on-failure[:N]' });
}
