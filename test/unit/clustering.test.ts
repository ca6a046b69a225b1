import { expect, test } from "bun:test";
import { join } from "node:path";
import { ClusterEngine, type EngineSnapshot } from "../../src/intelligence/clustering.ts";
import { groupingAccuracy } from "../../src/intelligence/grouping-accuracy.ts";
import { newId } from "../../src/ids.ts";
import { clusterLines } from "../../scripts/bench/clustering.ts";
import { readLoghub } from "../../scripts/bench/loghub.ts";

const LOGHUB = join(import.meta.dir, "../../../shared/data/loghub");

/** The one template all `messages` got, or undefined when they landed in different clusters. */
function sharedTemplate(engine: ClusterEngine, messages: string[]): string | undefined {
  const ids = new Set(messages.map((message) => engine.assign(message).clusterId));
  return ids.size === 1 ? engine.get([...ids][0] as string)?.template : undefined;
}

test("the same problem with different numbers, hosts, paths, ids and timestamps is one cluster with a readable template", () => {
  const engine = new ClusterEngine({ newId: () => newId("clu") });
  const timeouts = [
    "Connection to 10.0.0.12:5432 timed out after 3000 ms",
    "Connection to db-7.internal:5432 timed out after 250 ms",
    "Connection to [2001:db8::1]:6379 timed out after 12s",
  ];
  expect(sharedTemplate(engine, timeouts)).toBe("Connection to <*> timed out after <*>");
  expect(engine.list()[0]?.id).toMatch(/^clu_/);

  const uploads = [
    "Upload of /var/data/2024-05-01/report.csv failed for request 3f2b8c1e-9d4a-4f7e-b1c2-0a9e8d7c6b5a at 2024-05-01T10:00:00Z",
    "Upload of /srv/tmp/x.bin failed for request 7d1e2f3a-0b9c-4d8e-a7f6-5e4d3c2b1a09 at 2024-06-11T23:59:59.123Z",
  ];
  const upload = uploads.map((message) => engine.assign(message));
  expect(upload[0]?.isNew).toBe(true);
  expect(upload[1]?.clusterId).toBe(upload[0]?.clusterId as string);
  expect(upload[1]?.template).toBe("Upload of <*> failed for request <*> at <*>");
});

test("different problems that share most of their words stay apart", () => {
  const engine = new ClusterEngine();
  const timedOut = engine.assign("Connection to db-1 timed out").clusterId;
  const refused = engine.assign("Connection to db-1 refused").clusterId;
  const loggedIn = engine.assign("Session of user alice opened").clusterId;
  const loggedOut = engine.assign("Session of user alice closed").clusterId;
  expect(new Set([timedOut, refused, loggedIn, loggedOut]).size).toBe(4);
  expect(engine.assign("Connection to cache-2 timed out").clusterId).toBe(timedOut);
  expect(engine.assign("Session of user bob closed").clusterId).not.toBe(loggedIn);
});

test("a word position becomes a variable once enough different words are seen there, and earlier clusters merge", () => {
  const engine = new ClusterEngine();
  const first = engine.assign("Invalid user alice from 10.0.0.1");
  const others = ["bob", "carol"].map((user) => engine.assign(`Invalid user ${user} from 10.0.0.2`));
  expect(others.every((assignment) => assignment.isNew)).toBe(true);
  const fourth = engine.assign("Invalid user dave from 10.0.0.3");
  expect(fourth.template).toBe("Invalid user <*> from <*>");
  expect(fourth.clusterId).toBe(first.clusterId);
  expect(fourth.absorbed.sort()).toEqual(others.map((assignment) => assignment.clusterId).sort());
  expect(engine.assign("Invalid user erin from 192.168.1.9").clusterId).toBe(fourth.clusterId);
  expect(engine.get(fourth.clusterId)?.count).toBe(5);
});

test("words that say what happened stay part of the problem however many of them are seen", () => {
  const engine = new ClusterEngine();
  const states = ["Started", "Paused", "Resumed", "Stopped", "Suspended"];
  const ids = states.map((state) => engine.assign(`[instance: 7c9e6679-7425-40de-944b] VM ${state} (Lifecycle Event)`));
  expect(new Set(ids.map((assignment) => assignment.clusterId)).size).toBe(states.length);
});

test("an engineer's merge and pin are remembered for later events", () => {
  const engine = new ClusterEngine();
  const disk = engine.assign("Disk /dev/sda1 is full").clusterId;
  const quota = engine.assign("Quota exceeded on volume 7").clusterId;
  engine.merge(disk, quota);
  expect(engine.resolve(quota)).toBe(disk);
  expect(engine.assign("Quota exceeded on volume 12").clusterId).toBe(disk);
  expect(engine.get(disk)?.count).toBe(3);

  const oom = engine.assign("Worker 3 killed: out of memory").clusterId;
  engine.pin("Container <*> OOMKilled", oom);
  expect(engine.assign("Container web-7f9c OOMKilled").clusterId).toBe(oom);
  expect(engine.assign("Container api-1 OOMKilled").pinned).toBe(true);
});

test("split gives a message its own cluster, which later events keep and the engine never merges back", () => {
  const engine = new ClusterEngine();
  const general = engine.assign("Job 1 failed: exit code 2").clusterId;
  const special = engine.split("Job 99 failed: exit code 137");
  expect(special.id).not.toBe(general);
  expect(engine.assign("Job 99 failed: exit code 137").clusterId).toBe(special.id);
  expect(engine.assign("Job 4 failed: exit code 1").clusterId).toBe(general);

  const oom = engine.split("Job <*> failed: exit code 137");
  expect(engine.caughtBy("Job <*> failed: exit code 137", "Job 7 failed: exit code 137")).toBe(true);
  expect(engine.caughtBy("Job <*> failed: exit code 137", "Job 7 failed: exit code 1")).toBe(false);
  expect(engine.assign("Job 12 failed: exit code 137").clusterId).toBe(oom.id);
  expect(engine.assign("Job 12 failed: exit code 3").clusterId).toBe(general);
});

test("sizes and durations are one variable whatever their unit or spelling", () => {
  const closes = [
    "upstream closed, 815 bytes sent, 1190 bytes (1.16 KB) received, lifetime <1 sec",
    "upstream closed, 2.5 MB sent, 0 bytes received, lifetime 00:02",
    "upstream closed, 12KB sent, 7 GiB received, lifetime 3 min",
  ];
  expect(sharedTemplate(new ClusterEngine(), closes)).toBe("upstream closed, <*> sent, <*> received, lifetime <*>");
});

test("huge messages are grouped by their beginning", () => {
  const engine = new ClusterEngine();
  const dump = (seed: number) =>
    `Heap dump for worker ${seed}: ${Array.from({ length: 20_000 }, (_, i) => `slot${i}=${(i * seed) % 97}`).join(" ")}`;
  const first = engine.assign(dump(3));
  expect(engine.assign(dump(5)).clusterId).toBe(first.clusterId);
  expect(first.template).toBe("Heap dump for worker <*>: <*>");
});

test("corrections survive a snapshot and restore", () => {
  const engine = new ClusterEngine({ newId: () => newId("clu") });
  const disk = engine.assign("Disk /dev/sda1 is full").clusterId;
  const quota = engine.assign("Quota exceeded on volume 7").clusterId;
  engine.merge(disk, quota);
  const special = engine.split("Disk /dev/sdz9 is full");
  const resumed = ClusterEngine.restore(JSON.parse(JSON.stringify(engine.snapshot())), {
    newId: () => newId("clu"),
  });
  expect(resumed.assign("Quota exceeded on volume 99").clusterId).toBe(disk);
  expect(resumed.assign("Disk /dev/sdz9 is full").clusterId).toBe(special.id);
  expect(resumed.assign("Disk /dev/sdb2 is full").clusterId).toBe(disk);
  expect(resumed.resolve(quota)).toBe(disk);
  expect(resumed.assign("Certificate for api.example.com expires in 3 days").clusterId).toMatch(/^clu_/);
});

test("an engine restored from its JSON snapshot continues exactly like the one that never stopped", () => {
  const lines = readLoghub(join(LOGHUB, "Linux_2k.log_structured.csv")).map((line) => line.content);
  const half = lines.length / 2;
  const engine = new ClusterEngine();
  for (const line of lines.slice(0, half)) engine.assign(line);
  engine.pin("check pass; user unknown", engine.assign("check pass; user unknown").clusterId);
  const saved: EngineSnapshot = JSON.parse(JSON.stringify(engine.snapshot()));
  const resumed = ClusterEngine.restore(saved);

  const continued = lines.slice(half).map((line) => resumed.assign(line));
  const uninterrupted = lines.slice(half).map((line) => engine.assign(line));
  expect(continued).toEqual(uninterrupted);
  expect(continued.some((assignment) => assignment.isNew)).toBe(true);
  expect(resumed.snapshot()).toEqual(engine.snapshot());
});

test("on OpenSSH's Loghub sample the engine groups better than Drain's published 0.788", () => {
  const lines = readLoghub(join(LOGHUB, "OpenSSH_2k.log_structured.csv"));
  const { predicted } = clusterLines(lines);
  const accuracy = groupingAccuracy(
    predicted,
    lines.map((line) => line.eventId),
  );
  expect(accuracy).toBeGreaterThan(0.788);
});
