import type { SyncMode } from '../../src/config/pipeline-schema.js';
import { SYNC_MODES } from '../../src/config/pipeline-schema.js';
import { replaceDestinationForTests } from '../../src/destinations/create-destination.js';
import { openFixture, type Fixture } from './change-fixture.js';
import { openPgRecordTestDestination } from './record-test-destination.js';
import { openHttpFixture, openRedisFixture } from './record-fixtures.js';

/**
 * The destinations the conformance suite (test/destinations/conformance.test.ts) runs
 * against. A new destination joins by adding an entry: how to open a fixture for it (a
 * warehouse, a pipeline file pointing at it, and a way to look at the target from the
 * test), and what it declares. Tests skip by declared capability. Narrow the list with
 * OUTFLOW_TEST_ENGINES=postgres,pglite,records.
 */
export interface DestinationHarness {
  name: string;
  shape: 'bulk' | 'records';
  modes: readonly SyncMode[];
  readBack: boolean;
  /** Refused rows are reported with their column (bulk loads say which column failed). */
  namesRejectedColumn: boolean;
  /** A full mirror sync deletes target rows outflow never delivered (needs a target it can query). */
  mirrorDeletesUnknownRows: boolean;
  /** `outflow run` in a child process reaches this destination (kill tests). */
  cli: boolean;
  /** The target can refuse a row's value (a text too long for its column); Redis stores any text. */
  refusesValues: boolean;
  /** Text holding a NUL is declared unstorable (capabilities.unstorable.nulInText) and refused before sending. */
  refusesNulInText: boolean;
  /** Opens a fixture: a DuckDB warehouse, a pipeline file, and a SQL view of the target. */
  open(prefix: string): Promise<Fixture>;
}

/** Postgres on the server and embedded (PGlite): the same connector, the same declarations. */
const postgresFamily = (engine: 'postgres' | 'pglite'): DestinationHarness => ({
  name: engine,
  shape: 'bulk',
  modes: SYNC_MODES,
  readBack: true,
  namesRejectedColumn: true,
  mirrorDeletesUnknownRows: true,
  cli: true,
  refusesValues: true,
  refusesNulInText: true,
  open: (prefix) => openFixture(prefix, engine),
});

const all: DestinationHarness[] = [
  postgresFamily('postgres'),
  postgresFamily('pglite'),
  {
    // Test-only record destination (test/support/record-test-destination.ts) writing row by
    // row into the real Postgres; HTTP and Redis (issue 12) take its place here.
    name: 'records',
    shape: 'records',
    modes: ['upsert', 'mirror'],
    readBack: true,
    namesRejectedColumn: false,
    mirrorDeletesUnknownRows: false,
    cli: false,
    refusesValues: true,
    refusesNulInText: true,
    async open(prefix) {
      replaceDestinationForTests('postgres', openPgRecordTestDestination);
      const f = await openFixture(prefix, 'postgres');
      const close = f.close;
      f.close = async () => {
        replaceDestinationForTests('postgres', undefined);
        await close();
      };
      return f;
    },
  },
  {
    // A JSON API the test starts, keeping its records in Postgres (test/support/pg-backed-api.ts).
    name: 'http',
    shape: 'records',
    modes: ['upsert', 'insert_new', 'update', 'mirror'],
    readBack: false,
    namesRejectedColumn: false,
    mirrorDeletesUnknownRows: false,
    cli: true,
    refusesValues: true,
    refusesNulInText: false,
    open: openHttpFixture,
  },
  {
    // The real Redis, one hash per row, seen through an SQL view (test/support/redis-sql-view.ts).
    name: 'redis',
    shape: 'records',
    modes: ['upsert', 'mirror', 'replace'],
    readBack: true,
    namesRejectedColumn: false,
    mirrorDeletesUnknownRows: false,
    cli: true,
    refusesValues: false,
    refusesNulInText: false,
    open: openRedisFixture,
  },
];

const wanted = process.env.OUTFLOW_TEST_ENGINES?.split(',').map((s) => s.trim());

/** The harness entries this test process runs (all, or those named in OUTFLOW_TEST_ENGINES). */
export const DESTINATION_HARNESSES: DestinationHarness[] = wanted ? all.filter((h) => wanted.includes(h.name)) : all;
