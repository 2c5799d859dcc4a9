/**
 * One error class per kind of failure a user can act on. Messages say what was expected,
 * what was found and where; they are built from redacted text only.
 */
export class OutflowError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The pipeline file is wrong: names the file, the field path and what was expected. */
export class ConfigError extends OutflowError {}

/** A connection could not be opened or was lost. */
export class ConnectionError extends OutflowError {}

/** The model's columns do not fit the destination table. */
export class SchemaMismatchError extends OutflowError {}

/** The model itself is unusable (NULL or duplicate keys, missing key column). */
export class ModelError extends OutflowError {}

/** A user action (before/after/on_success/on_failure) failed. */
export class ActionError extends OutflowError {}

/** Another run of the same pipeline holds the lock. */
export class LockedError extends OutflowError {}

/** mirror/replace would delete more of the target than max_delete_ratio allows. */
export class MassDeleteError extends OutflowError {}

/** A fault worth retrying: connection reset, server restart, deadlock, serialization failure. */
export class TransientError extends OutflowError {}

/** The run was cancelled (SIGTERM, abort) or exceeded its time budget. */
export class CancelledError extends OutflowError {}

/** outflow may not keep its state where the pipeline says (a schema it cannot create or write): names the schema and the privilege. */
export class StateAccessError extends OutflowError {}
