import { Option } from 'clipanion';
import { formatBytes } from '../../image/progress.js';

/** The global --root flag (podman's): every image command takes it. */
export function rootOption(): string | undefined {
  return Option.String('--root', {
    description: 'state directory (data under ROOT/data, runtime files under ROOT/run)',
  });
}

/** "3 days ago"-style age of an ISO date, as `podman images` prints. */
export function age(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  const steps: [number, string][] = [
    [31536000, 'year'],
    [2592000, 'month'],
    [604800, 'week'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, unit] of steps) {
    const n = Math.floor(seconds / size);
    if (n >= 1) return `${n} ${unit}${n > 1 ? 's' : ''} ago`;
  }
  return 'Less than a minute ago';
}

export { formatBytes };

/** podman's --tls-verify[=false]: HTTPS required unless explicitly false. */
export function tlsVerifyOption(): string | boolean | undefined {
  return Option.String('--tls-verify', {
    tolerateBoolean: true,
    description: 'require HTTPS and valid certificates (--tls-verify=false: plain HTTP)',
  });
}
export function tlsVerify(value: string | boolean | undefined): boolean {
  return podmanBoolean(value, true);
}

/** A podman boolean flag given as --flag, --flag=true or --flag=false (Option.String with tolerateBoolean). */
export function podmanBoolean(value: string | boolean | undefined, fallback: boolean): boolean {
  return value === undefined ? fallback : value !== false && value !== 'false';
}
