/** Two readers claiming one meter's plain identity come to the same answer, whoever asks. */
import assert from "node:assert/strict";
import { keepsPlain } from "../../../lib/outputs/mqtt/identity.ts";

Deno.test("exactly one of two readers keeps the plain identity: the default prefix, else the lower", () => {
  const prefixes = ["p1reader", "attic", "garage", "home/p1", "Z"];
  for (const a of prefixes) {
    for (const b of prefixes) {
      if (a === b) continue;
      assert.notEqual(keepsPlain(a, b), keepsPlain(b, a), `${a} and ${b} agree on one keeper`);
    }
  }
  assert.equal(keepsPlain("p1reader", "attic"), true);
  assert.equal(keepsPlain("attic", "p1reader"), false);
  assert.equal(keepsPlain("attic", "garage"), true);
  assert.equal(keepsPlain("garage", "attic"), false);
  // A config that is no reader's is never fought over.
  assert.equal(keepsPlain("p1reader", undefined), false);
});
