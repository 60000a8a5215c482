import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Offer } from '../../lib/offers/offer.ts';
import { RunPodProvider } from '../../lib/providers/runpod/provider.ts';
import { MachineRunner } from '../../lib/sim/machines/runner.ts';
import { RunPodSim } from '../../lib/sim/runpod/runpod-sim.ts';
import { eventually } from '../support/index.ts';
import { aRequirements, aTag } from '../unit/providers/builders.ts';

/**
 * RunPod's pod log stream stays open (ADR 0018 §3), as the simulator keeps it. Source: the v2
 * OpenAPI (/work/shared/reference/openapi/runpod-rest-v2.openapi.json) getPodLogs — "Streams
 * pod logs as Server-Sent Events"; its 200 answers `Connection` "Always `keep-alive` to hold
 * the SSE stream open", `Cache-Control` "Always `no-cache`", `X-Accel-Buffering` "Always
 * `no`"; `tail` is the "Number of historical lines to backfill **before streaming**" (`0`:
 * "stream live with no backfill"); each event "includes an `id:` line and a JSON `data:`
 * payload with `source`, `line`, and `ts` fields", the example
 * `id: 2026-06-01T12:02:03Z/000000000001` / `data: {"ts":"2026-06-01T12:02:03Z","source":"container","line":"Model loaded."}`.
 * What the spec leaves open, the simulator decides and says so: the stream ends when the pod
 * is gone.
 */

const KEY = 'log-stream-contract-key';
const runpod = new RunPodSim({ seed: 4 });
let runner: MachineRunner;

beforeAll(async () => {
  await runpod.start();
  runner = new MachineRunner({ hosts: { runpod }, pollMs: 50 });
  runner.start();
});

afterAll(async () => {
  await runner.stop();
  await runpod.stop();
});

afterEach(() => {
  runpod.assertNoInstances();
});

/** A reader of one stream that records everything it carried and whether it ended. */
interface OpenStream {
  response: Response;
  /** the body as far as it came */
  text(): string;
  /** true once the server ended the body (an abort by the test is not an end) */
  ended(): boolean;
  /** true once the connection broke under the reader (not by the test's own abort) */
  failed(): boolean;
  until(what: string, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

async function openStream(server: string, podId: string, query: string): Promise<OpenStream> {
  const aborter = new AbortController();
  const response = await fetch(`${server}/v2/pods/${podId}/logs?${query}`, {
    headers: { authorization: `Bearer ${KEY}`, accept: 'text/event-stream' },
    signal: aborter.signal,
  });
  expect(response.status).toBe(200);
  let text = '';
  let ended = false;
  let failed = false;
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const pump = (async () => {
    try {
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) {
          ended = true;
          return;
        }
        text += decoder.decode(chunk.value, { stream: true });
      }
    } catch {
      failed = !aborter.signal.aborted;
    }
  })();
  return {
    response,
    text: () => text,
    ended: () => ended,
    failed: () => failed,
    until: (what, timeoutMs = 15_000) =>
      eventually(async () => (text.includes(what) ? text : undefined), {
        what: `${JSON.stringify(what)} on the stream`,
        timeoutMs,
        intervalMs: 50,
        describe: async () => JSON.stringify({ ended, text }),
      }),
    close: async () => {
      aborter.abort();
      await pump;
    },
  };
}

/** `data:` payloads of the complete events so far. */
function events(text: string): { id: string; data: { ts: string; source: string; line: string } }[] {
  return text
    .split('\n\n')
    .slice(0, -1)
    .map((block) => {
      const fields = new Map(
        block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
      );
      return { id: fields.get('id') ?? '', data: JSON.parse(fields.get('data') ?? '{}') };
    });
}

/** Rents a pod that prints `early-<n>`, then `later-<n>` after `gapS` seconds, then sleeps. */
async function rentPrinting(provider: RunPodProvider, n: string, gapS: number) {
  const [offer] = await provider.listOffers(aRequirements('runpod'), {});
  const script = `echo early-${n}; sleep ${gapS}; echo later-${n}; exec sleep 600`;
  const launch = { image: 'busybox:1.36', command: ['/bin/sh', '-c', script], env: {}, diskGb: 10 };
  const created = await provider.create(offer as Offer, launch, aTag(), {});
  if (created.outcome !== 'created') throw new Error(`not created: ${created.outcome}`);
  return created.instance.id;
}

describe('RunPod GET /v2/pods/{id}/logs stays open (simulator)', () => {
  // Built per test: the simulator's port is known only once it started.
  const provider = () => new RunPodProvider({ apiKey: KEY, baseUrl: runpod.url });

  it('sends the tail, stays open, then carries a line printed later; frees the stream when the client leaves', async () => {
    const id = await rentPrinting(provider(), 'a1', 3);
    const streams: OpenStream[] = [];
    try {
      const first = await openStream(runpod.url, id, 'source=container&tail=100');
      streams.push(first);
      await first.until('early-a1');
      // The line is in the log now: a second reader gets it as its one line of backfill.
      const second = await openStream(runpod.url, id, 'source=container&tail=1');
      streams.push(second);
      await second.until('early-a1', 2_000);
      expect(events(second.text()).map((e) => e.data.line)).toEqual(['early-a1']);
      await sleep(500);
      expect(second.ended(), 'the stream ended after its backfill').toBe(false);
      expect(second.text()).not.toContain('later-a1');
      // The line the container prints afterwards arrives on both open streams.
      await second.until('later-a1');
      await first.until('later-a1');
      expect(events(second.text()).map((e) => e.data.line)).toEqual(['early-a1', 'later-a1']);
      await sleep(300);
      expect([first.ended(), second.ended()]).toEqual([false, false]);
      expect(runpod.openLogStreams()).toBe(2);
    } finally {
      for (const stream of streams) await stream.close();
      await provider().destroy(id, {});
    }
    await eventually(async () => (runpod.openLogStreams() === 0 ? true : undefined), {
      what: 'the simulator to free the streams its clients left',
      timeoutMs: 2_000,
      intervalMs: 20,
    });
  });

  it('answers each event as the spec example: `id: <ts>/<seq>`, data {ts, source, line}, ts in whole seconds', async () => {
    const id = await rentPrinting(provider(), 'f1', 600);
    const stream = await openStream(runpod.url, id, 'tail=100');
    try {
      await stream.until('early-f1');
      expect(stream.response.headers.get('content-type')).toBe('text/event-stream');
      expect(stream.response.headers.get('cache-control')).toBe('no-cache');
      expect(stream.response.headers.get('connection')).toBe('keep-alive');
      expect(stream.response.headers.get('x-accel-buffering')).toBe('no');
      const all = events(stream.text());
      // Without `source`, both: the host's system lines first, then what the container printed.
      expect(all.map((e) => [e.data.source, e.data.line])).toEqual([
        ['system', 'Pulling image busybox:1.36'],
        ['system', `Started container for pod ${id}`],
        ['container', 'early-f1'],
      ]);
      for (const [i, e] of all.entries()) {
        expect(Object.keys(e.data)).toEqual(['ts', 'source', 'line']);
        expect(e.data.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expect(e.id).toBe(`${e.data.ts}/${String(i + 1).padStart(12, '0')}`);
      }
    } finally {
      await stream.close();
      await provider().destroy(id, {});
    }
  });

  it('tail=0 streams live with no backfill', async () => {
    const id = await rentPrinting(provider(), 'z1', 2);
    const probe = await openStream(runpod.url, id, 'source=container');
    let live: OpenStream | undefined;
    try {
      await probe.until('early-z1');
      live = await openStream(runpod.url, id, 'source=container&tail=0');
      await live.until('later-z1');
      expect(events(live.text()).map((e) => e.data.line)).toEqual(['later-z1']);
      // Ids count the pod's log, not this stream: the live line keeps its place after the backfilled one.
      expect(events(live.text())[0]?.id).toMatch(/\/000000000002$/);
    } finally {
      await probe.close();
      await live?.close();
      await provider().destroy(id, {});
    }
  });

  it('ends the stream once the pod is gone', async () => {
    const id = await rentPrinting(provider(), 'g1', 600);
    const stream = await openStream(runpod.url, id, 'source=container');
    try {
      await stream.until('early-g1');
      await provider().destroy(id, {});
      await eventually(async () => (stream.ended() ? true : undefined), {
        what: 'the stream of a deleted pod to end',
        timeoutMs: 2_000,
        intervalMs: 20,
      });
      expect(runpod.openLogStreams()).toBe(0);
    } finally {
      await stream.close();
    }
  });
});

describe('RunPod log streams at simulator stop', () => {
  it('stop closes every open stream and leaves none behind', async () => {
    // No machine runner: the system lines alone make the backfill.
    const sim = new RunPodSim({ seed: 5 });
    await sim.start();
    const provider = new RunPodProvider({ apiKey: KEY, baseUrl: sim.url });
    const [offer] = await provider.listOffers(aRequirements('runpod'), {});
    const launch = {
      image: 'busybox:1.36',
      command: ['/bin/sh', '-c', 'exec sleep 600'],
      env: {},
      diskGb: 10,
    };
    const created = await provider.create(offer as Offer, launch, aTag(), {});
    if (created.outcome !== 'created') throw new Error(`not created: ${created.outcome}`);
    const stream = await openStream(sim.url, created.instance.id, 'source=system');
    await stream.until('Pulling image busybox:1.36');
    expect(sim.openLogStreams()).toBe(1);
    await sim.stop();
    expect(sim.openLogStreams()).toBe(0);
    // The client learns it from its socket, a moment later.
    await eventually(async () => (stream.ended() || stream.failed() ? true : undefined), {
      what: 'the client to see its stream closed',
      timeoutMs: 2_000,
      intervalMs: 20,
    });
    await stream.close();
  });

  // OpenAPI components.parameters: LogTail `{"type":"integer","minimum":0,"maximum":5000}`,
  // LogSourceParam → schemas.LogSource (container | system). Out-of-schema values are refused
  // with the API's 422 validation problem, never streamed.
  it.each([
    ['tail above the maximum', 'tail=5001', '$.tail: must be an integer from 0 to 5000'],
    ['a negative tail', 'tail=-1', '$.tail: must be an integer from 0 to 5000'],
    ['a tail that is not an integer', 'tail=2.5', '$.tail: must be an integer from 0 to 5000'],
    ['an unknown source', 'source=kernel', '$.source: value must be one of "container", "system"'],
  ])('refuses %s with 422 and says which parameter', async (_what, query, detail) => {
    const rp = new RunPodProvider({ apiKey: KEY, baseUrl: runpod.url });
    const id = await rentPrinting(rp, `refuse-${query.length}`, 1);
    try {
      const answer = await fetch(`${runpod.url}/v2/pods/${id}/logs?${query}`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      expect(answer.status).toBe(422);
      // the problem body is JSON: the detail appears JSON-escaped
      expect(await answer.text()).toContain(JSON.stringify(detail).slice(1, -1));
      expect(runpod.openLogStreams()).toBe(0);
    } finally {
      await rp.destroy(id, {});
    }
  });
});
