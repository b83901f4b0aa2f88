// The OCI record store's format has one owner (src/engine/oci/state.ts, docs/oci-records.md) and a
// second reader, bin/hutch-runtime's C front: it hands any record with a field it does not know to
// Node, so both must list the same fields (a new one in state.ts goes into the C list too, once the
// front does with it what state.ts does).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { RECORD_FIELDS } from '../../../src/engine/oci/state.js';

it('the C front knows every field of an OCI record, and no other', () => {
  const source = readFileSync(join(import.meta.dirname, '..', '..', '..', 'native', 'runtime-front-record.c'), 'utf8');
  const list = /RECORD_FIELDS\[\] = \{([^}]*)\}/.exec(source)?.[1] ?? '';
  const inC = [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  expect(inC.sort()).toEqual(Object.keys(RECORD_FIELDS).sort());
});
