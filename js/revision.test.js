import assert from "node:assert/strict";
import { test } from "node:test";
import { diffLines, stepHeadline } from "./revision.js";

test("a step's headline carries its rate, interval and paired test", () => {
  const h = {
    step: 1,
    status: "kept",
    failure_rate: { value: 0.125, low: 0.022, high: 0.47 },
    n: 8,
    fixed: 7,
    broke: 0,
    p: 0.015625,
  };
  assert.equal(
    stepHeadline(h),
    "step 1: kept · failure rate 13% [2%, 47%] of 8 · fixed 7, broke 0, McNemar p = 0.016",
  );
  assert.equal(stepHeadline({ step: 2, status: "invalid" }), "step 2: invalid");
});

test("diff lines are classed by what they do", () => {
  const kinds = diffLines("--- current\n+++ proposal\n@@ -1,2 +1,3 @@\n keep\n-old\n+new\n").map(
    (d) => d.kind,
  );
  assert.deepEqual(kinds, ["file", "file", "hunk", "same", "del", "add"]);
  assert.deepEqual(diffLines(""), []);
});
