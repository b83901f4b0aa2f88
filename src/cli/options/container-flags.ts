import { isSquashfsFile } from '../../image/squashfs.js';
import { Option } from 'clipanion';
import * as t from 'typanion';
import { UsageError } from '../../errors.js';
import type { SetupFlags } from '../../engine/setup/setup.js';
import { HutchCommand } from '../command.js';
import { withResourceFlags } from './resource-flags.js';

/**
 * The flags `run` and `create` share for the image, its storage, the network and resources
 * (the launch path's own flags stay in commands/run.ts). Both commands extend this class, so
 * `run`, `run -d` and `create` parse the same flags into the same SetupFlags.
 */
export abstract class ContainerFlagsCommand extends withResourceFlags(HutchCommand) {
  pull = Option.String('--pull', 'missing', {
    validator: t.isEnum(['always', 'missing', 'never'] as const),
    description: 'pull the image always, when missing (default) or never',
  });
  platform = Option.String('--platform', { description: 'OS/ARCH[/VARIANT] of the image to pull' });
  storageDriver = Option.String('--storage-driver', {
    description: 'fuse (the union filesystem, default; "overlay" also accepted) or vfs (a plain copy per container)',
  });
  entrypoint = Option.String('--entrypoint', { description: 'override the image\'s Entrypoint ("" clears it)' });
  networkMode = Option.String('--network,--net', {
    description: 'slirp4netns[:OPTIONS] (default when installed), pasta[:ARGS], none, host',
  });
  publish = Option.Array('-p,--publish', [], { description: 'publish a port [HOSTIP:][HOSTPORT:]CPORT[/tcp|udp]' });
  publishAll = Option.Boolean('-P,--publish-all', false, {
    description: 'publish every port the image exposes on a free host port',
  });
  dns = Option.Array('--dns', [], { description: "a DNS server for the container's resolv.conf" });
  dnsSearch = Option.Array('--dns-search', [], { description: 'a DNS search domain' });
  dnsOption = Option.Array('--dns-option', [], { description: 'an options line entry of resolv.conf (e.g. ndots:2)' });
  addHost = Option.Array('--add-host', [], { description: 'add NAME:IP to /etc/hosts (IP may be host-gateway)' });
  cgroups = Option.String('--cgroups', {
    description: 'enabled (default), disabled, no-conmon or required (unenforceable limits fail)',
  });
  cgroupManager = Option.String('--cgroup-manager', { description: 'systemd or cgroupfs' });
  cgroupParent = Option.String('--cgroup-parent', { description: 'a slice (systemd) or a cgroup path (cgroupfs)' });
  mount = Option.Array('--mount', [], {
    description: "type=volume|bind|tmpfs,source=S,destination=D[,readonly] (docker's keys)",
  });

  /** docker's rule: without --rootfs the first positional is the image, the rest its command. */
  protected setupFlags(
    root: string | undefined,
    rootfs: string | undefined,
    positionals: string[],
  ): { setup: SetupFlags; command: string[] } {
    // --rootfs FILE of a squashfs is a single-file image, as its path in place of IMAGE is.
    if (rootfs !== undefined && isSquashfsFile(rootfs)) [rootfs, positionals] = [undefined, [rootfs, ...positionals]];
    const image = rootfs === undefined ? positionals[0] : undefined;
    const rest = rootfs === undefined ? positionals.slice(1) : positionals;
    if (rootfs === undefined && image === undefined)
      throw new UsageError('RUN_NO_IMAGE', 'cannot run: no image given', {
        hint: 'hutch run IMAGE [COMMAND...], or --rootfs DIR COMMAND...',
      });
    const setup: SetupFlags = {
      image,
      root,
      pull: this.pull,
      platform: this.platform,
      storageDriver: this.storageDriver,
      entrypoint: this.entrypoint,
      networkMode: this.networkMode,
      publish: this.publish,
      publishAll: this.publishAll,
      dns: this.dns,
      dnsSearch: this.dnsSearch,
      dnsOption: this.dnsOption,
      addHost: this.addHost,
      ...this.resourceFlags(),
      cgroups: this.cgroups,
      cgroupManager: this.cgroupManager,
      cgroupParent: this.cgroupParent,
      mounts: this.mount,
    };
    return { setup, command: rest };
  }
}
