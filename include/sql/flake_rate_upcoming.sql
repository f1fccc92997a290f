-- Upcoming weeks: scheduled volunteer shifts by region and Saturday-to-Friday week, for every
-- week after the current one (BigQuery Standard SQL). Same tables, conventions and `{dataset}`
-- substitution as flake_rate.sql (see there); bound named parameters (no at sign in comments):
--   as_of           DATE          the campaign-local date of the refresh ("today")
--   event_type_ids  ARRAY<INT64>  VAN event types counted
--
-- One row per (region, week) that has sign-ups: Scheduled = sign-ups whose latest status is
-- Scheduled, Signups = every sign-up of the week whatever its status.
WITH latest_status AS (
  SELECT
    event_signup_id,
    TRIM(event_status_name) AS status
  FROM `{dataset}.event_signups_statuses`
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY event_signup_id
    ORDER BY created_at DESC, event_signups_status_id DESC
  ) = 1
),
region_map AS (
  SELECT location_id, region, organizer
  FROM `{dataset}.location_regions`
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY location_id ORDER BY region, organizer) = 1
),
region_organizers AS (
  SELECT region, STRING_AGG(DISTINCT organizer, ', ' ORDER BY organizer) AS organizers
  FROM region_map
  WHERE organizer IS NOT NULL AND TRIM(organizer) != ''
  GROUP BY region
),
signups AS (
  SELECT
    COALESCE(m.region, 'Unassigned') AS region,
    DATE_TRUNC(DATE(e.starts_at), WEEK(SATURDAY)) AS week_start,
    ls.status
  FROM `{dataset}.event_signups` AS s
  JOIN `{dataset}.events` AS e ON e.event_id = s.event_id
  LEFT JOIN latest_status AS ls ON ls.event_signup_id = s.event_signup_id
  LEFT JOIN region_map AS m ON m.location_id = e.location_id
  WHERE e.event_type_id IN UNNEST(@event_type_ids)
    AND DATE(e.starts_at) >= DATE_ADD(DATE_TRUNC(@as_of, WEEK(SATURDAY)), INTERVAL 7 DAY)
),
weekly AS (
  SELECT
    region,
    week_start,
    COUNTIF(status = 'Scheduled') AS scheduled,
    COUNT(*) AS signups
  FROM signups
  GROUP BY region, week_start
)
SELECT
  w.region AS Region,
  COALESCE(o.organizers, '') AS Organizer,
  w.week_start AS Week_Start,
  DATE_ADD(w.week_start, INTERVAL 6 DAY) AS Week_End,
  w.scheduled AS Scheduled,
  w.signups AS Signups
FROM weekly AS w
LEFT JOIN region_organizers AS o ON o.region = w.region
ORDER BY Week_Start, Region
