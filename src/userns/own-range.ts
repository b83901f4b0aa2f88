import { userInfo } from 'node:os';
import type { IdMapping } from '../runtime/spec.js';
import { chooseMaps } from './idmap.js';
import { readSubid } from './subid.js';

/**
 * The id maps of a user namespace whose root is the calling user and whose other ids are the
 * user's /etc/subuid and /etc/subgid ranges (the user alone without them): what `hutch unshare`
 * and the removal of containers' files run in, as `podman unshare` does.
 */
export function ownRangeMaps(): { uidMappings: IdMapping[]; gidMappings: IdMapping[] } {
  const me = userInfo();
  const owner = { name: me.username, id: me.uid };
  return {
    uidMappings: chooseMaps('auto', me.uid, readSubid('uid', owner)),
    gidMappings: chooseMaps('auto', me.gid, readSubid('gid', owner)),
  };
}
