// The helpers of src/index.ts (no service needed).
import assert from "node:assert/strict";
import { it } from "node:test";

import { connect, packFloat32, unpackFloat32 } from "../src/index";

it("packs rows as little-endian float32 and unpacks them back", () => {
  const bytes = packFloat32([[1, 0.5], [-2, 3]]);
  assert.equal(bytes.length, 16);
  assert.equal(bytes.readFloatLE(4), 0.5);
  assert.deepEqual(unpackFloat32(bytes, 2), [[1, 0.5], [-2, 3]]);
});

it("rejects ragged rows, naming the row", () => {
  assert.throws(() => packFloat32([[1, 2], [3]]), /row 1 has 1 values; every row must have 2/);
});

it("rejects an address without a port, saying what it wants", () => {
  assert.throws(() => connect("localhost"), /address must be "host:port"/);
  connect("[::1]:50051").close();
  connect("dns:///localhost:50051").close();
});
