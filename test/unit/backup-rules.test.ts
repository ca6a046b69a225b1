// The backup rules on a fixed clock: which backups retention keeps (count, age, the newest verified one),
// when backups are stale (fresh installation's grace, ages, a failed drill, schedules off), and the settings.
import { expect, test } from "bun:test";
import { retentionPlan } from "../../src/backups/retention.ts";
import { assessStaleness, type StalenessSettings } from "../../src/backups/staleness.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";

const now = new Date("2026-12-07T12:00:00Z");
const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();
const hoursAgo = (hours: number) => now.getTime() / 1000 - hours * 3600;
const backup = (id: string, days: number) => ({ id: `bkp_${id}`, finished_at: daysAgo(days) });

test("retention keeps the KEEP_COUNT newest and everything younger than KEEP_DAYS; prunes only what is both old and beyond the count", () => {
  // Oldest first, as listBackups returns them.
  const backups = [backup("a", 90), backup("b", 60), backup("c", 45), backup("d", 31), backup("e", 29), backup("f", 1)];
  const plan = retentionPlan(backups, { keepDays: 30, keepCount: 2, now });
  expect(plan.pruned.map((b) => b.id)).toEqual(["bkp_d", "bkp_c", "bkp_b", "bkp_a"]);
  expect(plan.kept.map((b) => [b.id, b.reason])).toEqual([
    ["bkp_f", "among the 2 newest"],
    ["bkp_e", "among the 2 newest"],
  ]);
  expect(plan.pruned[0]).toMatchObject({ age_days: 31, reason: "older than 30 days and not among the 2 newest" });

  // Many young backups: all kept, whatever the count.
  const young = retentionPlan([backup("x", 3), backup("y", 2), backup("z", 1)], { keepDays: 30, keepCount: 1, now });
  expect(young.pruned).toEqual([]);
  // A server down for months: its last KEEP_COUNT backups stay however old they are.
  const stale = retentionPlan([backup("o1", 200), backup("o2", 190), backup("o3", 180)], {
    keepDays: 30,
    keepCount: 2,
    now,
  });
  expect(stale.pruned.map((b) => b.id)).toEqual(["bkp_o1"]);
});

test("retention never prunes the newest verified backup", () => {
  const plan = retentionPlan([backup("verified", 100), backup("b", 50), backup("c", 1)], {
    keepDays: 30,
    keepCount: 1,
    now,
    protect: ["bkp_verified", null],
  });
  expect(plan.pruned.map((b) => b.id)).toEqual(["bkp_b"]);
  expect(plan.kept.find((b) => b.id === "bkp_verified")?.reason).toBe("the newest backup a restore drill passed on");
});

const settings: StalenessSettings = {
  backupCron: "41 3 * * *",
  backupDrillCron: "11 4 * * 0",
  backupMaxAgeHours: 36,
  backupDrillMaxAgeDays: 8,
};
const empty = { last_created: null, last_verified: null };

test("a fresh installation is not stale: no workspace, or a first workspace younger than the limit", () => {
  expect(assessStaleness(empty, settings, now)).toMatchObject({ stale: false, last_backup_at: null });
  const young = assessStaleness({ ...empty, first_workspace: hoursAgo(10) }, settings, now);
  expect(young.stale).toBe(false);
  expect(young.summary).toContain("no backup yet (due by 2026-12-08T14:00:00.000Z)");
  const old = assessStaleness({ ...empty, first_workspace: hoursAgo(40) }, settings, now);
  expect(old.stale).toBe(true);
  expect(old.reasons).toEqual(["no backup yet, 40 h after the first workspace (limit 36 h)"]);
  // Scheduled backups off: having none is the operator's choice, not an alarm.
  expect(
    assessStaleness(
      { ...empty, first_workspace: hoursAgo(400) },
      { ...settings, backupCron: null, backupDrillCron: null },
      now,
    ).stale,
  ).toBe(false);
});

test("stale when the newest backup or passing drill is too old, or the latest drill failed", () => {
  const fresh = {
    last_created: hoursAgo(5),
    first_created: hoursAgo(24 * 20),
    last_verified: hoursAgo(24 * 3),
    last_drill: hoursAgo(24 * 3),
    last_drill_ok: true,
    first_workspace: hoursAgo(24 * 30),
  };
  const ok = assessStaleness(fresh, settings, now);
  expect(ok).toMatchObject({
    stale: false,
    reasons: [],
    last_backup_age_hours: 5,
    last_verified_age_days: 3,
    last_drill_ok: true,
  });
  expect(assessStaleness({ ...fresh, last_created: hoursAgo(37) }, settings, now).reasons).toEqual([
    "the newest backup is 37 h old (limit 36 h)",
  ]);
  expect(assessStaleness({ ...fresh, last_verified: hoursAgo(24 * 9) }, settings, now).reasons).toEqual([
    "the newest passing restore drill is 9 days old (limit 8 days)",
  ]);
  const failed = assessStaleness({ ...fresh, last_drill: hoursAgo(1), last_drill_ok: false }, settings, now);
  expect(failed.stale).toBe(true);
  expect(failed.last_drill_ok).toBe(false);
  expect(failed.reasons[0]).toContain("the latest restore drill FAILED");
  // A backup but never a drill: due DRILL_MAX_AGE_DAYS after the first backup.
  const never = { ...fresh, last_verified: null, last_drill: null, last_drill_ok: null };
  expect(assessStaleness(never, settings, now).reasons).toEqual([
    "no restore drill has passed yet, 20 days on (limit 8 days)",
  ]);
  expect(assessStaleness({ ...never, first_created: hoursAgo(24) }, settings, now).stale).toBe(false);
  // An existing backup still ages with the schedule off.
  expect(assessStaleness({ ...fresh, last_created: hoursAgo(50) }, { ...settings, backupCron: null }, now).stale).toBe(
    true,
  );
});

test("backup settings: defaults, off, and one clear error for a bad value", () => {
  const defaults = loadConfig({});
  expect(defaults).toMatchObject({
    backupCron: "41 3 * * *",
    backupDrillCron: "11 4 * * 0",
    backupKeepDays: 30,
    backupKeepCount: 7,
    backupMaxAgeHours: 36,
    backupDrillMaxAgeDays: 8,
  });
  expect(loadConfig({ CAUSELOOP_BACKUP_CRON: "off", CAUSELOOP_BACKUP_DRILL_CRON: "OFF" })).toMatchObject({
    backupCron: null,
    backupDrillCron: null,
  });
  const cases: [Record<string, string>, RegExp][] = [
    [{ CAUSELOOP_BACKUP_CRON: "daily" }, /CAUSELOOP_BACKUP_CRON is not a valid cron expression/],
    [{ CAUSELOOP_BACKUP_DRILL_CRON: "61 * * * *" }, /CAUSELOOP_BACKUP_DRILL_CRON/],
    [{ CAUSELOOP_BACKUP_KEEP_DAYS: "0" }, /CAUSELOOP_BACKUP_KEEP_DAYS must be a whole number/],
    [{ CAUSELOOP_BACKUP_KEEP_COUNT: "two" }, /CAUSELOOP_BACKUP_KEEP_COUNT/],
    [{ CAUSELOOP_BACKUP_MAX_AGE_HOURS: "1.5" }, /CAUSELOOP_BACKUP_MAX_AGE_HOURS/],
    [{ CAUSELOOP_BACKUP_DRILL_MAX_AGE_DAYS: "-1" }, /CAUSELOOP_BACKUP_DRILL_MAX_AGE_DAYS/],
  ];
  for (const [env, message] of cases) expect(() => loadConfig(env)).toThrow(message);
  expect(() => loadConfig({ CAUSELOOP_BACKUP_KEEP_DAYS: "0" })).toThrow(ConfigError);
});
