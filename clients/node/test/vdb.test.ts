// VDB against a live service: SAGE_VDB_ADDR=host:port (the Python test driver sets it).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { connect, packFloat32, type SageClients, unary, vdb } from "../src/index";

const address = process.env.SAGE_VDB_ADDR?.split(",")[0];

describe("VDBService", { skip: address ? false : "SAGE_VDB_ADDR is not set" }, () => {
  let clients: SageClients;
  const name = `node_${randomUUID().replaceAll("-", "")}`.slice(0, 40);

  before(async () => {
    clients = connect(address!);
    await unary(clients.vdb, "createCollection", vdb.CreateCollectionRequest.fromPartial({
      collection: { name, dimension: 2, metric: vdb.Metric.METRIC_L2, index: { flat: {} } },
    }));
    const written = await unary(clients.vdb, "upsert", vdb.UpsertRequest.fromPartial({
      collection: name,
      points: {
        ids: ["origin", "near", "far"],
        vectors: packFloat32([[0, 0], [0.1, 0], [5, 5]]),
        metadatas: [2019, 2023, 2024].map((year) => ({ fields: { year: { intValue: year } } })),
        documents: ["at the origin", "near the origin", "far away"],
      },
      durability: vdb.Durability.DURABILITY_SYNC,
    }));
    assert.equal(written.upsertedCount, 3);
  });
  after(async () => {
    await unary(clients.vdb, "deleteCollection", { name }).catch(() => undefined);
    clients?.close();
  });

  it("finds the nearest points", async () => {
    const reply = await unary(clients.vdb, "search", vdb.SearchRequest.fromPartial({
      collection: name, queries: packFloat32([[0, 0]]), topK: 2,
    }));
    assert.equal(reply.results.length, 1);
    assert.deepEqual(reply.results[0].ids, ["origin", "near"]);
  });

  it("applies a metadata filter before ranking", async () => {
    const reply = await unary(clients.vdb, "search", vdb.SearchRequest.fromPartial({
      collection: name,
      queries: packFloat32([[0, 0]]),
      topK: 2,
      where: { year: { $gte: 2020 } },
      include: [vdb.Field.FIELD_METADATA, vdb.Field.FIELD_DOCUMENT],
    }));
    const hits = reply.results[0];
    assert.deepEqual(hits.ids, ["near", "far"]);
    assert.deepEqual(hits.metadatas.map((m) => m.fields.year?.intValue), [2023, 2024]);
    assert.deepEqual(hits.documents, ["near the origin", "far away"]);
  });
});
