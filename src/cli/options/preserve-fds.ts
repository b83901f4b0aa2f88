import { Option } from 'clipanion';
import * as t from 'typanion';

/** `--preserve-fds N` (podman's and runc's): hutch's fds 3..2+N become those of `to`. */
export function preserveFdsOption(to: string): number {
  return Option.String('--preserve-fds', '0', {
    validator: t.isNumber(),
    description: `pass fds 3 to 2+N on to ${to}`,
  });
}
