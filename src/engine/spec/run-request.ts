import type { RunRequest } from './blueprint.js';

/**
 * The request a plain `hutch run` gets when no flag is given (no rootfs: the image's; no command:
 * the image's), with `over` on top: the one spelling of these defaults for callers that make a
 * request without the CLI (the build's RUN step, tests). Fresh arrays on each call: callers may
 * push onto them.
 */
export function defaultRunRequest(over: Partial<RunRequest> = {}): RunRequest {
  return {
    rootfs: '',
    command: [],
    env: [],
    envFiles: [],
    volumes: [],
    readOnly: false,
    tmpfs: [],
    network: 'none',
    capAdd: [],
    capDrop: [],
    tty: false,
    ulimits: [],
    ...over,
  };
}
