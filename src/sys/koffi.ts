import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type KoffiModule from 'koffi';
import { inBundle } from './entry-points.js';

/** koffi's API: what `import koffi from 'koffi'` gives. */
export type Koffi = typeof KoffiModule;

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const bundled = inBundle(here);

let loaded: Koffi | undefined;

/**
 * koffi, loaded once per process: the one place that does (src/sys/libc.ts and fuse/libfuse.ts
 * take it from here).
 *
 * `require('koffi')` cost ~12 ms of every process that loads it (the CLI of a run, the union
 * daemon, the monitor; docs/startup.md): koffi and its platform package are resolved through
 * their package.json `exports`, both CommonJS loaders are compiled (no code cache reaches them),
 * node's own ELF headers are read to tell glibc from musl, and deprecated APIs are wrapped. The
 * platform's prebuilt `koffi.node` alone costs ~1.5 ms, so hutch requires that file directly where
 * it is where npm puts it and its version is koffi's; anywhere else (another layout, platform or
 * version) it goes through koffi's own loader as before. The glibc build is the right one: hutch
 * loads `libc.so.6` by name (libc.ts), so it runs on glibc only. None of the deprecated APIs koffi's
 * loader wraps (`lib.cdecl`, `register` with a `this`) is used.
 */
export function loadKoffi(): Koffi {
  loaded ??= (koffiPrebuilt(here) ?? require('koffi')) as Koffi;
  return loaded;
}

/**
 * Whether koffi is loaded in this process already, without loading it. A spawn through
 * posix_spawn (spawn-light.ts) saves a few ms over Node's fork, loading koffi costs more:
 * `hutch sandbox` and the OCI face's record verbs do without it. Compiled ES modules (what tests
 * import) count it as loaded, so that tests go the way a `hutch run` goes.
 */
export function koffiLoaded(): boolean {
  return !bundled || loaded !== undefined;
}

/**
 * The platform's koffi.node beside the koffi package Node would resolve from `from`, when its
 * version is that package's; undefined where koffi's own loader must decide.
 */
export function koffiPrebuilt(from: string): Koffi | undefined {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) return undefined;
  const platform = `@koromix/koffi-linux-${process.arch}/linux_${process.arch}/koffi.node`;
  // Node's lookup for `koffi` from here: each ancestor's node_modules (dist/src/sys or dist/bundle
  // in the package; the package inside an app's node_modules or npm -g's tree).
  for (let dir = from; ; dir = dirname(dir)) {
    const koffiPackage = join(dir, 'node_modules', 'koffi', 'package.json');
    if (existsSync(koffiPackage)) {
      // npm hoists the platform package beside koffi, or nests it under koffi when it cannot.
      const native = [
        join(dir, 'node_modules', platform),
        join(dir, 'node_modules', 'koffi', 'node_modules', platform),
      ].find((file) => existsSync(file));
      if (native === undefined) return undefined;
      try {
        const { version } = JSON.parse(readFileSync(koffiPackage, 'utf8')) as { version?: unknown };
        const module = require(native) as Koffi;
        return module.version === version ? module : undefined;
      } catch {
        return undefined; // koffi's own loader says why
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}
