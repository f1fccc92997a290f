-- The nightly shift reset, statement by statement (PostgreSQL). `precinct.tracker.nightly`
-- runs them in ONE transaction, in this order, with bound parameters:
--   %(day)s        the tracker's new day (campaign timezone)
--   %(last_day)s   the last day pulled (day + look-ahead)
--   %(active)s     the statuses loaded as active shifts (text[])
-- Every statement is set-based: no per-row round trips.

-- name: lock_run
-- One reset at a time, whoever starts it.
SELECT pg_advisory_xact_lock(hashtext('precinct.shift_reset'));

-- name: lock_daily_tables
-- Organizers keep reading; their writes wait until the reset commits, so none is lost between
-- the back-up and the clear.
LOCK TABLE shift, canvass_group, note IN EXCLUSIVE MODE;

-- name: tracker_day
SELECT max(shift_day) FROM shift;

-- name: clear_sync_window
DELETE FROM sync_shift WHERE shift_day BETWEEN %(day)s AND %(last_day)s;

-- name: copy_sync
COPY sync_shift (shift_day, event_signup_id, van_id, first_name, last_name, event_id, event_name,
                 event_type_id, event_type, event_shift_id, role_name, status_id, status_name,
                 location_id, location_name, region, start_time, end_time, pulled_at)
FROM STDIN;

-- name: backup_shift
-- A row backed up before is only rewritten when it changed (a re-run adds and changes nothing).
INSERT INTO backup_shift AS b (
    shift_day, event_signup_id, van_id, event_id, event_name, event_type, event_shift_id,
    role_name, status_name, location_id, region, start_time, end_time, same_day_confirmed,
    flake_chase, checked_in_at, loaded_at)
SELECT shift_day, event_signup_id, van_id, event_id, event_name, event_type, event_shift_id,
       role_name, status_name, location_id, region, start_time, end_time, same_day_confirmed,
       flake_chase, checked_in_at, loaded_at
FROM shift
WHERE shift_day < %(day)s
ON CONFLICT (shift_day, event_signup_id) DO UPDATE SET
    van_id = EXCLUDED.van_id, event_id = EXCLUDED.event_id, event_name = EXCLUDED.event_name,
    event_type = EXCLUDED.event_type, event_shift_id = EXCLUDED.event_shift_id,
    role_name = EXCLUDED.role_name, status_name = EXCLUDED.status_name,
    location_id = EXCLUDED.location_id, region = EXCLUDED.region,
    start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time,
    same_day_confirmed = EXCLUDED.same_day_confirmed, flake_chase = EXCLUDED.flake_chase,
    checked_in_at = EXCLUDED.checked_in_at, loaded_at = EXCLUDED.loaded_at, backed_up_at = now()
WHERE (b.van_id, b.event_id, b.event_name, b.event_type, b.event_shift_id, b.role_name,
       b.status_name, b.location_id, b.region, b.start_time, b.end_time, b.same_day_confirmed,
       b.flake_chase, b.checked_in_at, b.loaded_at)
      IS DISTINCT FROM
      (EXCLUDED.van_id, EXCLUDED.event_id, EXCLUDED.event_name, EXCLUDED.event_type,
       EXCLUDED.event_shift_id, EXCLUDED.role_name, EXCLUDED.status_name, EXCLUDED.location_id,
       EXCLUDED.region, EXCLUDED.start_time, EXCLUDED.end_time, EXCLUDED.same_day_confirmed,
       EXCLUDED.flake_chase, EXCLUDED.checked_in_at, EXCLUDED.loaded_at);

-- name: backup_canvass_group
INSERT INTO backup_canvass_group AS b (
    shift_day, canvass_group_id, group_name, van_id, location_id, turf, departed_at,
    returned_at, doors_knocked)
SELECT shift_day, canvass_group_id, group_name, van_id, location_id, turf, departed_at,
       returned_at, doors_knocked
FROM canvass_group
WHERE shift_day < %(day)s
ON CONFLICT (shift_day, canvass_group_id) DO UPDATE SET
    group_name = EXCLUDED.group_name, van_id = EXCLUDED.van_id,
    location_id = EXCLUDED.location_id, turf = EXCLUDED.turf,
    departed_at = EXCLUDED.departed_at, returned_at = EXCLUDED.returned_at,
    doors_knocked = EXCLUDED.doors_knocked, backed_up_at = now()
WHERE (b.group_name, b.van_id, b.location_id, b.turf, b.departed_at, b.returned_at,
       b.doors_knocked)
      IS DISTINCT FROM
      (EXCLUDED.group_name, EXCLUDED.van_id, EXCLUDED.location_id, EXCLUDED.turf,
       EXCLUDED.departed_at, EXCLUDED.returned_at, EXCLUDED.doors_knocked);

-- name: backup_note
INSERT INTO backup_note AS b (shift_day, note_id, van_id, author, body, created_at)
SELECT shift_day, note_id, van_id, author, body, created_at
FROM note
WHERE shift_day < %(day)s
ON CONFLICT (shift_day, note_id) DO UPDATE SET
    van_id = EXCLUDED.van_id, author = EXCLUDED.author, body = EXCLUDED.body,
    created_at = EXCLUDED.created_at, backed_up_at = now()
WHERE (b.van_id, b.author, b.body, b.created_at)
      IS DISTINCT FROM (EXCLUDED.van_id, EXCLUDED.author, EXCLUDED.body, EXCLUDED.created_at);

-- name: clear_shift
DELETE FROM shift WHERE shift_day < %(day)s;

-- name: clear_canvass_group
DELETE FROM canvass_group WHERE shift_day < %(day)s;

-- name: clear_note
DELETE FROM note WHERE shift_day < %(day)s;

-- name: upsert_locations
-- Never blank out a known name or region: VAN's empty values keep what the tracker has.
INSERT INTO location AS l (location_id, name, region)
SELECT DISTINCT ON (location_id) location_id, location_name, region
FROM sync_shift
WHERE shift_day BETWEEN %(day)s AND %(last_day)s
ORDER BY location_id, (location_name IS NULL), (region IS NULL), start_time DESC
ON CONFLICT (location_id) DO UPDATE SET
    name = COALESCE(EXCLUDED.name, l.name),
    region = COALESCE(EXCLUDED.region, l.region),
    updated_at = now()
WHERE (l.name, l.region)
      IS DISTINCT FROM (COALESCE(EXCLUDED.name, l.name), COALESCE(EXCLUDED.region, l.region));

-- name: upsert_volunteers
INSERT INTO volunteer AS v (van_id, first_name, last_name)
SELECT DISTINCT ON (van_id) van_id, first_name, last_name
FROM sync_shift
WHERE shift_day BETWEEN %(day)s AND %(last_day)s
ORDER BY van_id, (first_name IS NULL AND last_name IS NULL), start_time DESC, event_signup_id
ON CONFLICT (van_id) DO UPDATE SET
    first_name = COALESCE(EXCLUDED.first_name, v.first_name),
    last_name = COALESCE(EXCLUDED.last_name, v.last_name),
    updated_at = now()
WHERE (v.first_name, v.last_name)
      IS DISTINCT FROM (COALESCE(EXCLUDED.first_name, v.first_name),
                        COALESCE(EXCLUDED.last_name, v.last_name));

-- name: drop_gone_day_shifts
-- On a re-run of the same night: the day's shifts VAN no longer lists as active.
DELETE FROM shift t
WHERE t.shift_day = %(day)s
  AND NOT EXISTS (
      SELECT 1 FROM sync_shift s
      WHERE s.shift_day = t.shift_day AND s.event_signup_id = t.event_signup_id
        AND s.status_name = ANY(%(active)s));

-- name: load_day_shifts
-- VAN's columns are refreshed when they changed; the organizers' own (confirms, flake chase,
-- check-in) are kept.
INSERT INTO shift AS t (
    shift_day, event_signup_id, van_id, event_id, event_name, event_type, event_shift_id,
    role_name, status_name, location_id, region, start_time, end_time)
SELECT s.shift_day, s.event_signup_id, s.van_id, s.event_id, s.event_name, s.event_type,
       s.event_shift_id, s.role_name, s.status_name, s.location_id,
       COALESCE(l.region, s.region), s.start_time, s.end_time
FROM sync_shift s
LEFT JOIN location l ON l.location_id = s.location_id
WHERE s.shift_day = %(day)s AND s.status_name = ANY(%(active)s)
ON CONFLICT (shift_day, event_signup_id) DO UPDATE SET
    van_id = EXCLUDED.van_id, event_id = EXCLUDED.event_id, event_name = EXCLUDED.event_name,
    event_type = EXCLUDED.event_type, event_shift_id = EXCLUDED.event_shift_id,
    role_name = EXCLUDED.role_name, status_name = EXCLUDED.status_name,
    location_id = EXCLUDED.location_id, region = EXCLUDED.region,
    start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time, loaded_at = now()
WHERE (t.van_id, t.event_id, t.event_name, t.event_type, t.event_shift_id, t.role_name,
       t.status_name, t.location_id, t.region, t.start_time, t.end_time)
      IS DISTINCT FROM
      (EXCLUDED.van_id, EXCLUDED.event_id, EXCLUDED.event_name, EXCLUDED.event_type,
       EXCLUDED.event_shift_id, EXCLUDED.role_name, EXCLUDED.status_name, EXCLUDED.location_id,
       EXCLUDED.region, EXCLUDED.start_time, EXCLUDED.end_time);

-- name: count_day_shifts
SELECT count(*) FROM shift WHERE shift_day = %(day)s;

-- name: recompute_next_shifts
-- Each volunteer's first active shift after the day, within the pulled days; none -> NULLs.
WITH next AS (
    SELECT DISTINCT ON (van_id)
           van_id, shift_day, start_time, status_name = %(confirmed)s AS confirmed, event_signup_id
    FROM sync_shift
    WHERE shift_day > %(day)s AND shift_day <= %(last_day)s AND status_name = ANY(%(active)s)
    ORDER BY van_id, start_time, event_signup_id
)
UPDATE volunteer v SET
    next_shift_day = n.shift_day,
    next_shift_start = n.start_time,
    next_shift_confirmed = n.confirmed,
    next_shift_event_signup_id = n.event_signup_id,
    updated_at = now()
FROM volunteer v0
LEFT JOIN next n ON n.van_id = v0.van_id
WHERE v.van_id = v0.van_id
  AND (v.next_shift_day, v.next_shift_start, v.next_shift_confirmed,
       v.next_shift_event_signup_id)
      IS DISTINCT FROM (n.shift_day, n.start_time, n.confirmed, n.event_signup_id);

-- name: count_next_shifts
SELECT count(*) FILTER (WHERE next_shift_day IS NOT NULL),
       count(*) FILTER (WHERE next_shift_confirmed)
FROM volunteer;

-- name: log_run
INSERT INTO shift_reset_log (run_id, day, dry_run, counts)
VALUES (%(run_id)s, %(day)s, %(dry_run)s, %(counts)s)
ON CONFLICT (run_id, day) DO UPDATE SET
    dry_run = EXCLUDED.dry_run, counts = EXCLUDED.counts, finished_at = now();

-- name: doors_knocked
-- Doors per day and volunteer for the days' returned canvass groups: backed-up rows, plus live
-- rows not backed up yet (a dry run, or an export before the reset).
WITH day_groups AS (
    SELECT shift_day, canvass_group_id, group_name, van_id, location_id, returned_at,
           doors_knocked
    FROM backup_canvass_group WHERE shift_day BETWEEN %(first_day)s AND %(last_day)s
    UNION ALL
    SELECT c.shift_day, c.canvass_group_id, c.group_name, c.van_id, c.location_id,
           c.returned_at, c.doors_knocked
    FROM canvass_group c
    WHERE c.shift_day BETWEEN %(first_day)s AND %(last_day)s
      AND NOT EXISTS (SELECT 1 FROM backup_canvass_group b
                      WHERE b.shift_day = c.shift_day AND b.canvass_group_id = c.canvass_group_id)
)
SELECT g.shift_day,
       g.van_id,
       concat_ws(' ', v.first_name, v.last_name) AS volunteer,
       string_agg(DISTINCT l.region, ', ') AS region,
       count(DISTINCT g.group_name) AS canvass_groups,
       sum(g.doors_knocked) AS doors_knocked
FROM day_groups g
LEFT JOIN volunteer v ON v.van_id = g.van_id
LEFT JOIN location l ON l.location_id = g.location_id
WHERE g.returned_at IS NOT NULL
GROUP BY g.shift_day, g.van_id, v.first_name, v.last_name
ORDER BY g.shift_day, g.van_id;
