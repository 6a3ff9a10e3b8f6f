// KV against a live service: SAGE_KV_ADDR=host:port (the Python test driver sets it).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { status } from "@grpc/grpc-js";

import { connect, type SageClients, unary } from "../src/index";

const address = process.env.SAGE_KV_ADDR?.split(",")[0];

describe("KVService", { skip: address ? false : "SAGE_KV_ADDR is not set" }, () => {
  let clients: SageClients;
  const namespace = `node-${randomUUID()}`;

  before(() => {
    clients = connect(address!);
  });
  after(() => clients?.close());

  it("reads back what it put, with the version", async () => {
    const put = await unary(clients.kv, "put", { namespace, key: "greeting", value: Buffer.from("hello"), ttlMs: 0 });
    assert.equal(put.version, 1);
    const got = await unary(clients.kv, "get", { namespace, key: "greeting" });
    assert.equal(got.entry?.value.toString(), "hello");
    assert.equal(got.entry?.version, 1);
  });

  it("scans a prefix in key order, a page at a time", async () => {
    for (const key of ["doc/3", "doc/1", "doc/2", "other"]) {
      await unary(clients.kv, "put", { namespace, key, value: Buffer.from(key), ttlMs: 0 });
    }
    const first = await unary(clients.kv, "scan", { namespace, prefix: "doc/", pageSize: 2, pageToken: "", includeValues: true });
    assert.deepEqual(first.entries.map((e) => e.key), ["doc/1", "doc/2"]);
    assert.equal(first.entries[0].value.toString(), "doc/1");
    assert.notEqual(first.nextPageToken, "");
    const second = await unary(clients.kv, "scan", {
      namespace, prefix: "doc/", pageSize: 2, pageToken: first.nextPageToken, includeValues: false,
    });
    assert.deepEqual(second.entries.map((e) => e.key), ["doc/3"]);
    assert.equal(second.nextPageToken, "");
  });

  it("rejects a stale compare-and-set with FAILED_PRECONDITION", async () => {
    await unary(clients.kv, "put", { namespace, key: "cas", value: Buffer.from("a"), ttlMs: 0 });
    await assert.rejects(
      unary(clients.kv, "put", { namespace, key: "cas", value: Buffer.from("b"), ttlMs: 0, expectedVersion: 7 }),
      (err: { code: number; details: string }) => err.code === status.FAILED_PRECONDITION && err.details.length > 0,
    );
  });

  it("reports a missing key as NOT_FOUND", async () => {
    await assert.rejects(
      unary(clients.kv, "get", { namespace, key: "missing" }),
      (err: { code: number }) => err.code === status.NOT_FOUND,
    );
  });
});
