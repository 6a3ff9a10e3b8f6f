// Bearer tokens: SAGE_KV_ADDR points at a KV instance started with auth_tokens, and
// SAGE_TOKEN holds one of them (the Python test driver sets both).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { status } from "@grpc/grpc-js";

import { connect, unary } from "../src/index";

const address = process.env.SAGE_KV_ADDR?.split(",")[0];
const token = process.env.SAGE_TOKEN;

describe("bearer token", { skip: address && token ? false : "SAGE_KV_ADDR and SAGE_TOKEN are not set" }, () => {
  const request = { namespace: "auth", key: "k", value: Buffer.from("v"), ttlMs: 0 };

  it("is sent on every call when given to connect()", async () => {
    const clients = connect(address!, { token });
    try {
      assert.ok((await unary(clients.kv, "put", request)).version >= 1);
    } finally {
      clients.close();
    }
  });

  it("is required by the server: a call without it is UNAUTHENTICATED", async () => {
    const clients = connect(address!, { token: "" }); // "": none, not even SAGE_TOKEN
    try {
      await assert.rejects(unary(clients.kv, "put", request), (err: { code: number }) => err.code === status.UNAUTHENTICATED);
    } finally {
      clients.close();
    }
  });
});
