import assert from "node:assert/strict";
import { test } from "node:test";
import { wordDiff } from "./diff.js";

test("additions are marked and the rest kept", () => {
  const d = wordDiff("Write a poem.", "Write a short poem.");
  assert.deepEqual(
    d.filter((p) => p.op === "add").map((p) => p.text.trim()),
    ["short"],
  );
  assert.equal(
    d
      .filter((p) => p.op !== "del")
      .map((p) => p.text)
      .join(""),
    "Write a short poem.",
  );
  assert.equal(
    d
      .filter((p) => p.op !== "add")
      .map((p) => p.text)
      .join(""),
    "Write a poem.",
  );
});

test("empty inputs", () => {
  assert.deepEqual(wordDiff("", ""), []);
  assert.deepEqual(wordDiff("", "new"), [{ op: "add", text: "new" }]);
});
