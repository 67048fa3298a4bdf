// What every SDK driver of this folder shares: a JSON line per step on standard output, what a
// caller learns from an SDK error, a call that must fail, the value as the SDK decoded it, and
// running the driver's main function under a time limit.
"use strict";

const TIMEOUT_MS = 60_000;

function out(step, data = {}) {
  process.stdout.write(JSON.stringify({ step, ...data }) + "\n");
}

/** What a caller learns from an SDK error (realm-web: statusCode + errorCode strings;
 *  Stitch: errorCodeName, a numeric errorCode). */
function describe(error) {
  return {
    message: String(error?.message ?? error),
    statusCode: error?.statusCode,
    errorCode: error?.errorCodeName ?? error?.errorCode,
  };
}

/** The error a promise must fail with; resolving is itself a failure. */
async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    return describe(error);
  }
  throw new Error("expected the call to fail, it succeeded");
}

/** A value as the SDK decoded it: a JS type, a BSON class or a Date. */
function show(value) {
  if (value instanceof Date) return { date: value.toISOString() };
  if (value && value._bsontype) return { bson: value._bsontype, text: value.toString() };
  return { js: typeof value, value };
}

/** Run `main`, then print "done" (or the error) and exit; an "error" after TIMEOUT_MS. */
function run(main) {
  const timer = setTimeout(() => {
    out("error", { message: `timed out after ${TIMEOUT_MS} ms` });
    process.exit(1);
  }, TIMEOUT_MS);
  main().then(
    () => {
      clearTimeout(timer);
      out("done");
      process.exit(0);
    },
    (error) => {
      out("error", { ...describe(error), stack: error?.stack });
      process.exit(1);
    },
  );
}

module.exports = { out, describe, failure, show, run };
