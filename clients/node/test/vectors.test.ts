// The float32 packing helpers (no service needed).
import assert from "node:assert/strict";
import { it } from "node:test";

import { packFloat32, unpackFloat32 } from "../src/index";

it("packs rows as little-endian float32 and unpacks them back", () => {
  const bytes = packFloat32([[1, 0.5], [-2, 3]]);
  assert.equal(bytes.length, 16);
  assert.equal(bytes.readFloatLE(4), 0.5);
  assert.deepEqual(unpackFloat32(bytes, 2), [[1, 0.5], [-2, 3]]);
});

it("rejects ragged rows, naming the row", () => {
  assert.throws(() => packFloat32([[1, 2], [3]]), /row 1 has 1 values; every row must have 2/);
});
