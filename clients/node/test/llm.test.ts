// LLM streaming against a live service: SAGE_LLM_ADDR=host:port (the Python test driver
// starts the service with its mock engine and sets it).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { connect, llm, type SageClients, unary } from "../src/index";

const address = process.env.SAGE_LLM_ADDR?.split(",")[0];

describe("LLMService", { skip: address ? false : "SAGE_LLM_ADDR is not set" }, () => {
  let clients: SageClients;
  const sampling = { temperature: 0, maxTokens: 12, seed: 7 };

  before(() => {
    clients = connect(address!);
  });
  after(() => clients?.close());

  it("streams deltas that add up to the whole completion", async () => {
    const request = llm.GenerateStreamRequest.fromPartial({ prompt: "The mesh streams tokens", sampling });
    const messages: llm.GenerateStreamResponse[] = [];
    for await (const message of clients.llm.generateStream(request)) {
      messages.push(message as llm.GenerateStreamResponse);
    }
    assert.ok(messages.length > 1, `expected several stream messages, got ${messages.length}`);
    const last = messages[messages.length - 1];
    assert.notEqual(last.finishReason, llm.FinishReason.FINISH_REASON_UNSPECIFIED);
    assert.ok((last.usage?.completionTokens ?? 0) > 0);
    for (const early of messages.slice(0, -1)) {
      assert.equal(early.finishReason, llm.FinishReason.FINISH_REASON_UNSPECIFIED);
    }

    const whole = await unary(clients.llm, "generate", llm.GenerateRequest.fromPartial({
      prompt: "The mesh streams tokens", sampling,
    }));
    assert.equal(messages.map((m) => m.delta).join(""), whole.text);
  });

  it("stops streaming when the caller cancels", async () => {
    const stream = clients.llm.generateStream(llm.GenerateStreamRequest.fromPartial({
      prompt: "cancel me", sampling: { ...sampling, maxTokens: 200 },
    }));
    const received: string[] = [];
    await assert.rejects(async () => {
      for await (const message of stream) {
        received.push((message as llm.GenerateStreamResponse).delta);
        stream.cancel();
      }
    }, (err: { code: number }) => err.code === 1 /* CANCELLED */);
    assert.ok(received.length >= 1 && received.length < 200);
  });
});
