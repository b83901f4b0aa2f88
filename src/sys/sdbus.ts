import { HutchError, SysError } from '../errors.js';
import { errnoName, koffi } from './libc.js';

/**
 * A small client of D-Bus through libsystemd's sd-bus (the library systemd, crun and podman's
 * conmon use). It is present wherever a systemd manager is, so a host without it has no user
 * manager to talk to either: it is loaded on first use, never at import. Messages are built one
 * basic value or container at a time (no varargs), so any signature can be sent.
 */
export type BusArg =
  | { type: 's' | 'o'; value: string }
  | { type: 'b'; value: boolean }
  | { type: 'i' | 'u'; value: number }
  | { type: 't' | 'x'; value: bigint | number }
  | { type: 'a' | 'r' | 'v'; contents: string; items: BusArg[] };

/** Where a method call goes. */
export interface BusTarget {
  destination: string;
  path: string;
  interface: string;
  member: string;
}

/** A method call answered with a D-Bus error, e.g. org.freedesktop.systemd1.NoSuchUnit. */
export class DbusError extends HutchError {
  readonly errorName: string;
  constructor(target: BusTarget, errorName: string, detail: string) {
    super('DBUS_CALL_FAILED', `d-bus call ${target.interface}.${target.member} failed: ${errorName}: ${detail}`);
    this.errorName = errorName;
  }
}

/** One connection to a bus; `close` it when done. */
export class SdBus {
  private constructor(private bus: unknown) {}

  /**
   * Connects to `address` (unix:path=…): a bus daemon's socket when `busClient` (the
   * connection says Hello), or a peer such as systemd's private socket.
   */
  static openAddress(address: string, busClient: boolean): SdBus {
    const out: unknown[] = [null];
    must('sd_bus_new', api().new_bus(out));
    const bus = new SdBus(out[0]);
    try {
      must('sd_bus_set_address', api().set_address(out[0], address), address);
      must('sd_bus_set_bus_client', api().set_bus_client(out[0], busClient ? 1 : 0), address);
      must('sd_bus_start', api().start(out[0]), address);
    } catch (error) {
      bus.close();
      throw error;
    }
    return bus;
  }

  /** Calls a method; returns the reply's first value when it is a string or object path. */
  call(target: BusTarget, args: BusArg[], timeoutUsec = 25_000_000): string | undefined {
    const f = api();
    const out: unknown[] = [null];
    must(
      'sd_bus_message_new_method_call',
      f.new_call(this.bus, out, target.destination, target.path, target.interface, target.member),
    );
    const message = out[0];
    try {
      for (const arg of args) append(message, arg);
      const reply = this.send(target, message, timeoutUsec);
      try {
        return readFirstString(reply);
      } finally {
        f.message_unref(reply);
      }
    } finally {
      f.message_unref(message);
    }
  }

  /** Reads a string-typed property (s or o). */
  getString(destination: string, path: string, iface: string, property: string): string {
    const target = { destination, path, interface: 'org.freedesktop.DBus.Properties', member: 'Get' };
    const f = api();
    const out: unknown[] = [null];
    must(
      'sd_bus_message_new_method_call',
      f.new_call(this.bus, out, destination, path, target.interface, target.member),
    );
    const message = out[0];
    try {
      append(message, { type: 's', value: iface });
      append(message, { type: 's', value: property });
      const reply = this.send({ ...target, member: `Get(${property})` }, message, 5_000_000);
      try {
        const t: (string | null)[] = [null];
        must('sd_bus_message_peek_type', f.peek_type(reply, [0], t));
        must('sd_bus_message_enter_container', f.enter_container(reply, 'v'.charCodeAt(0), t[0]));
        return readFirstString(reply) ?? '';
      } finally {
        f.message_unref(reply);
      }
    } finally {
      f.message_unref(message);
    }
  }

  close(): void {
    if (this.bus !== null) api().flush_close_unref(this.bus);
    this.bus = null;
  }

  private send(target: BusTarget, message: unknown, timeoutUsec: number): unknown {
    const f = api();
    const error = koffi.alloc('sd_bus_error', 1);
    koffi.encode(error, 'sd_bus_error', { name: null, message: null, _need_free: 0 });
    const out: unknown[] = [null];
    try {
      const r = f.call(this.bus, message, BigInt(timeoutUsec), error, out);
      if (r >= 0) return out[0];
      const decoded = koffi.decode(error, 'sd_bus_error') as { name: string | null; message: string | null };
      if (decoded.name) throw new DbusError(target, decoded.name, decoded.message ?? '');
      throw new SysError(`sd_bus_call ${target.member}`, -r, errnoName(r));
    } finally {
      f.error_free(error);
      koffi.free(error);
    }
  }
}

function append(message: unknown, arg: BusArg): void {
  const f = api();
  const code = arg.type.charCodeAt(0);
  if (arg.type === 'a' || arg.type === 'r' || arg.type === 'v') {
    must('sd_bus_message_open_container', f.open_container(message, code, arg.contents));
    for (const item of arg.items) append(message, item);
    must('sd_bus_message_close_container', f.close_container(message));
    return;
  }
  if (arg.type === 's' || arg.type === 'o') {
    must('sd_bus_message_append_basic', f.append_string(message, code, arg.value));
    return;
  }
  const buffer = Buffer.alloc(8);
  switch (arg.type) {
    case 'b':
      buffer.writeInt32LE(arg.value ? 1 : 0);
      break;
    case 'i':
      buffer.writeInt32LE(arg.value);
      break;
    case 'u':
      buffer.writeUInt32LE(arg.value);
      break;
    case 't':
      buffer.writeBigUInt64LE(BigInt(arg.value));
      break;
    case 'x':
      buffer.writeBigInt64LE(BigInt(arg.value));
  }
  must('sd_bus_message_append_basic', f.append_basic(message, code, buffer));
}

function readFirstString(reply: unknown): string | undefined {
  const f = api();
  const type: number[] = [0];
  const contents: (string | null)[] = [null];
  if (f.peek_type(reply, type, contents) <= 0) return undefined;
  const kind = String.fromCharCode(type[0]!);
  if (kind !== 's' && kind !== 'o') return undefined;
  const value: (string | null)[] = [null];
  must('sd_bus_message_read_basic', f.read_string(reply, type[0], value));
  return value[0] ?? undefined;
}

function must(call: string, result: number, path?: string): void {
  if (result < 0) throw new SysError(call, -result, errnoName(result), path);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => any;
let bound: Record<string, Fn> | undefined;

/** Binds libsystemd on first use; a SysError(ENOENT) when the library is not installed. */
function api(): Record<string, Fn> {
  if (bound !== undefined) return bound;
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load('libsystemd.so.0');
  } catch {
    throw new SysError('dlopen', 2, 'ENOENT', 'libsystemd.so.0');
  }
  koffi.opaque('sd_bus');
  koffi.opaque('sd_bus_message');
  koffi.struct('sd_bus_error', { name: 'const char *', message: 'const char *', _need_free: 'int' });
  bound = {
    new_bus: lib.func('int sd_bus_new(_Out_ sd_bus **ret)'),
    set_address: lib.func('int sd_bus_set_address(sd_bus *bus, const char *address)'),
    set_bus_client: lib.func('int sd_bus_set_bus_client(sd_bus *bus, int b)'),
    start: lib.func('int sd_bus_start(sd_bus *bus)'),
    flush_close_unref: lib.func('sd_bus *sd_bus_flush_close_unref(sd_bus *bus)'),
    new_call: lib.func(
      'int sd_bus_message_new_method_call(sd_bus *bus, _Out_ sd_bus_message **m, const char *destination, const char *path, const char *iface, const char *member)',
    ),
    message_unref: lib.func('sd_bus_message *sd_bus_message_unref(sd_bus_message *m)'),
    open_container: lib.func('int sd_bus_message_open_container(sd_bus_message *m, char type, const char *contents)'),
    close_container: lib.func('int sd_bus_message_close_container(sd_bus_message *m)'),
    enter_container: lib.func('int sd_bus_message_enter_container(sd_bus_message *m, char type, const char *contents)'),
    append_string: lib.func('sd_bus_message_append_basic', 'int', ['sd_bus_message *', 'char', 'const char *']),
    append_basic: lib.func('sd_bus_message_append_basic', 'int', ['sd_bus_message *', 'char', 'const void *']),
    peek_type: lib.func(
      'int sd_bus_message_peek_type(sd_bus_message *m, _Out_ char *type, _Out_ const char **contents)',
    ),
    read_string: lib.func('sd_bus_message_read_basic', 'int', [
      'sd_bus_message *',
      'char',
      koffi.out(koffi.pointer('const char *')),
    ]),
    call: lib.func(
      'int sd_bus_call(sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_error *ret_error, _Out_ sd_bus_message **reply)',
    ),
    error_free: lib.func('void sd_bus_error_free(sd_bus_error *e)'),
  };
  return bound;
}
