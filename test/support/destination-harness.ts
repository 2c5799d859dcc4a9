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
  /** Text holding a NUL character: refused before sending (Postgres cannot store it) or stored; undefined: not tested (no read-back to check it). */
  nulInText?: 'refused' | 'stored';
  /** The destination's own words, as the run reports them. */
  messages: {
    /** `insert` meeting the key (a, b) = (1, 'x') the target already holds. */
    duplicateKey: RegExp;
    /** 'ABC' into a varchar(2) column named code. */
    tooLong: RegExp;
  };
  /** Opens a fixture: a DuckDB warehouse, a pipeline file, and a SQL view of the target. */
  open(prefix: string): Promise<Fixture>;
}

/**
 * The test pause points (src/test-hooks.ts) a run into a destination of each shape passes
 * through, in run order: the kill tests stop a run at each. The records path has no
 * staging, COPY or merge transaction; it pauses after its first batch was written.
 */
export const KILL_POINTS = {
  bulk: ['before-stage', 'copy', 'merge', 'merge-commit', 'snapshot'],
  records: ['write', 'snapshot'],
} as const satisfies Record<DestinationHarness['shape'], readonly string[]>;

/** What a SQL database destination declares: every mode, read back, refused columns named, reachable from the CLI. */
const sqlDatabase = { shape: 'bulk', modes: SYNC_MODES, readBack: true, namesRejectedColumn: true, mirrorDeletesUnknownRows: true, cli: true, refusesValues: true } as const;

/** Postgres on the server and embedded (PGlite): the same connector, the same declarations. */
const postgresFamily = (engine: 'postgres' | 'pglite'): DestinationHarness => ({
  ...sqlDatabase,
  name: engine,
  nulInText: 'refused',
  messages: { duplicateKey: /Key \(a, b\)=\(1, x\) already exists/, tooLong: /value too long for type character varying\(2\)/ },
  open: (prefix) => openFixture(prefix, engine),
});

const all: DestinationHarness[] = [
  postgresFamily('postgres'),
  postgresFamily('pglite'),
  {
    // The MySQL connector against the local MariaDB (looked at with ANSI_QUOTES, test/support/databases.ts).
    ...sqlDatabase,
    name: 'mariadb',
    nulInText: 'stored',
    messages: { duplicateKey: /Duplicate entry '1-x' for key 'PRIMARY'/, tooLong: /Data truncated for column 'code'.*varchar\(2\)/ },
    open: (prefix) => openFixture(prefix, 'mariadb'),
  },
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
    // It writes into the real Postgres row by row.
    nulInText: 'refused',
    messages: { duplicateKey: /Key \(a, b\)=\(1, x\) already exists/, tooLong: /value too long for type character varying\(2\)/ },
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
    // The API keeps its records in Postgres and answers with Postgres's words.
    messages: { duplicateKey: /Key \(a, b\)=\(1, x\) already exists/, tooLong: /value too long for type character varying\(2\)/ },
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
    messages: { duplicateKey: /^$/, tooLong: /^$/ }, // insert is not a Redis mode; nothing is refused
    open: openRedisFixture,
  },
];

const wanted = process.env.OUTFLOW_TEST_ENGINES?.split(',').map((s) => s.trim());

/** The harness entries this test process runs (all, or those named in OUTFLOW_TEST_ENGINES). */
export const DESTINATION_HARNESSES: DestinationHarness[] = wanted ? all.filter((h) => wanted.includes(h.name)) : all;
