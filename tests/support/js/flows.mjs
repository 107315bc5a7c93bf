// The official JavaScript LangGraph SDK against Outlast, called the way Agent Chat UI, Agent Inbox
// and the SDK's React `useStream` call it. Usage: node flows.mjs <flow> <apiUrl> <apiKey>
// Prints one JSON document on stdout; tests/e2e/test_langgraph_js_sdk.py asserts on it.
import { Client } from "@langchain/langgraph-sdk";

const [flow, apiUrl, apiKey] = process.argv.slice(2);
const client = new Client({ apiUrl, apiKey });

// useStream's submit() (dist/react/stream.lgp.js, dist/ui/orchestrator.js) sends these options.
const USE_STREAM = {
  streamMode: ["values", "messages-tuple", "updates", "custom"],
  onDisconnect: "continue",
  streamResumable: true,
  config: { configurable: {} },
  context: {},
  metadata: { from: "js" },
  durability: "async",
};

async function collect(stream) {
  const parts = [];
  for await (const { event, data, id } of stream) parts.push({ event, data, id: id ?? null });
  return parts;
}

const flows = {
  // Agent Chat UI: the assistant list, a new thread, a streamed run, a waited run, its state.
  async chat() {
    const assistants = await client.assistants.search({ limit: 100 });
    const thread = await client.threads.create({ metadata: { user: "ada" } });
    const threadId = thread.thread_id;
    let created = null;
    const streamed = await collect(
      client.runs.stream(threadId, "notes", {
        ...USE_STREAM,
        input: { note: "s", steps: 2, done: 0 },
        multitaskStrategy: "rollback",
        ifNotExists: "create",
        onRunCreated: (meta) => (created = meta),
      }),
    );
    const waited = await client.runs.wait(threadId, "notes", {
      input: { note: "w" },
      config: { configurable: {} },
      multitaskStrategy: "enqueue",
    });
    const talk = await collect(
      client.runs.stream(null, "talk", {
        ...USE_STREAM,
        input: { messages: [{ type: "human", content: "hi" }] },
      }),
    );
    const state = await client.threads.getState(threadId);
    const history = await client.threads.getHistory(threadId, { limit: 10 });
    const got = await client.threads.get(threadId);
    // Agent Chat UI's thread list: the threads of the graph it talks to.
    const listed = await client.threads.search({ metadata: { graph_id: "notes" }, limit: 100 });
    return {
      assistants: assistants.map((a) => a.assistant_id),
      threadId,
      created,
      streamed,
      waited,
      talk,
      state: { values: state.values, next: state.next },
      history: history.map((h) => h.values),
      thread: { status: got.status, metadata: got.metadata },
      listed: listed.map((t) => t.thread_id),
    };
  },

  // A graph's `custom` chunks between its `updates`, and a subgraph's steps as `mode|namespace`.
  async custom() {
    const threadId = (await client.threads.create()).thread_id;
    const progress = await collect(
      client.runs.stream(threadId, "progress", {
        ...USE_STREAM,
        input: { note: "p", steps: 2, done: 0 },
      }),
    );
    const nested = await collect(
      client.runs.stream(null, "nested", {
        input: { note: "n", steps: 2, done: 0 },
        streamMode: ["updates"],
        streamSubgraphs: true,
      }),
    );
    return { progress, nested };
  },

  // Agent Inbox: a run that waits on a person, the inbox's list, a resume with a command.
  async inbox() {
    const threadId = (await client.threads.create({ metadata: { inbox: "js" } })).thread_id;
    const paused = await client.runs.wait(threadId, "expense", {
      input: { amount: 250, payee: "Fjord Hotel", description: "hotel in Bergen" },
    });
    const interrupted = await client.threads.search({
      status: "interrupted",
      metadata: { inbox: "js" },
      limit: 10,
      offset: 0,
      sortBy: "created_at",
      sortOrder: "desc",
    });
    const state = await client.threads.getState(threadId);
    // Agent Inbox answers with a list of one HumanResponse; "edit" approves with edited args.
    const [request] = Object.values(interrupted[0].interrupts)[0];
    const edited = { ...request.value.action_request.args, amount: 200 };
    const resumed = await collect(
      client.runs.stream(threadId, "expense", {
        ...USE_STREAM,
        command: {
          resume: [{ type: "edit", args: { action: request.value.action_request.action, args: edited } }],
        },
      }),
    );
    const after = await client.threads.get(threadId);
    const runs = await client.runs.list(threadId);
    return {
      threadId,
      paused,
      inbox: interrupted.map((t) => ({
        thread_id: t.thread_id,
        status: t.status,
        interrupts: t.interrupts,
      })),
      next: state.next,
      resumed,
      after: { status: after.status, values: after.values },
      runs: runs.map((r) => r.status),
    };
  },

  // Agent Inbox's "respond" answer: a text for the agent, which rejects an Outlast approval.
  async respond() {
    const threadId = (await client.threads.create()).thread_id;
    await client.runs.wait(threadId, "expense", {
      input: { amount: 900, payee: "Casino", description: "team outing" },
    });
    const run = await client.runs.create(threadId, "expense", {
      command: { resume: [{ type: "response", args: "not a business expense" }] },
    });
    const done = await client.runs.join(threadId, run.run_id);
    const again = await client.runs
      .create(threadId, "expense", { command: { resume: [{ type: "accept", args: null }] } })
      .then(
        () => null,
        (err) => err.status ?? String(err),
      );
    return { done, again };
  },

  // Agent Inbox's "ignore" of a thread: update_state with no values as the node __end__.
  async ignore() {
    const threadId = (await client.threads.create()).thread_id;
    await client.runs.wait(threadId, "expense", {
      input: { amount: 300, payee: "Airline", description: "flight" },
    });
    const before = (await client.threads.get(threadId)).status;
    const updated = await client.threads.updateState(threadId, { values: null, asNode: "__end__" });
    const after = await client.threads.get(threadId);
    const runs = await client.runs.list(threadId);
    const again = await client.threads
      .updateState(threadId, { values: null, asNode: "__end__" })
      .then(
        () => null,
        (err) => err.status ?? String(err),
      );
    return { before, updated, after: after.status, runs: runs.map((r) => r.status), again };
  },

  // useStream's reconnectOnMount: joinStream from the start ("-1") and after an event id.
  async join() {
    const threadId = (await client.threads.create()).thread_id;
    const run = await client.runs.create(threadId, "progress", {
      input: { note: "j", steps: 2, done: 0 },
      streamResumable: true,
      onDisconnect: "continue",
      multitaskStrategy: "enqueue",
    });
    const streamMode = ["values", "updates", "custom"];
    const whole = await collect(
      client.runs.joinStream(threadId, run.run_id, { lastEventId: "-1", streamMode }),
    );
    const plain = await collect(client.runs.joinStream(threadId, run.run_id, { streamMode }));
    const cut = whole.find((p) => p.event === "custom" && p.id !== null);
    const rest = await collect(
      client.runs.joinStream(threadId, run.run_id, { lastEventId: cut.id, streamMode }),
    );
    return { runId: run.run_id, whole, plain, cutId: cut.id, rest };
  },
};

try {
  process.stdout.write(JSON.stringify(await flows[flow]()) + "\n");
} catch (err) {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
}
