import assert from "node:assert/strict";
import { test } from "node:test";
import { createSender } from "./protocol.js";

function fakeModel() {
  const sent = [];
  const state = {
    actions: { STEP: { name: "step", payload: [] }, RUN: { name: "run", payload: ["n"] } },
  };
  return { sent, get: (k) => state[k], send: (m) => sent.push(m) };
}

test("an action is sent by its key, as the wire name the kernel dispatches on", () => {
  const model = fakeModel();
  const send = createSender(model);
  send("STEP");
  send("RUN", { n: 3 });
  assert.deepEqual(model.sent, [{ action: "step" }, { action: "run", n: 3 }]);
});

test("an undeclared key or payload field is refused before anything is sent", () => {
  const model = fakeModel();
  const send = createSender(model);
  assert.throws(() => send("STPE"), /unknown action STPE/);
  assert.throws(() => send("RUN", { n: 1, count: 2 }), /takes no count/);
  assert.deepEqual(model.sent, []);
});
