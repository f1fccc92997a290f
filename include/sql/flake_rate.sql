-- Volunteer flake rate by region and Saturday-to-Friday week (BigQuery Standard SQL).
--
-- Input: the VAN-synced tables of one state's dataset (event_signups, event_signups_statuses,
-- events) and the campaign's location_regions mapping. `{dataset}` is not a parameter: BigQuery
-- cannot bind table names, so precinct.flake_rate.sql.render() substitutes a dataset id that it
-- has first checked against a strict pattern (letters, digits, _ and an optional project id:
-- no quote, backtick, space or dot can get through). Every value is a bound named parameter:
--   start_date      DATE          the first week reported is the one containing this date
--   as_of           DATE          the campaign-local date of the refresh ("today")
--   event_type_ids  ARRAY<INT64>  VAN event types counted (e.g. Canvass, Phone Bank)
--
-- One row per (region, week) from start_date's week to the current week:
--   the latest status of each sign-up (status history, newest entry wins; ties by entry id),
--   the week of the event it signed up for (DATE_TRUNC to WEEK(SATURDAY)),
--   the region of the event's location through location_regions ('Unassigned' when unmapped),
--   Organizer = the region's organizers from the mapping ('' when there are none),
--   Completed / No_Show / Cancelled / Declined = sign-ups whose latest status is that status,
--   Scheduled = latest status Scheduled and the event is today or later,
--   Total = Completed + No_Show + Cancelled, Total_Flakes = No_Show + Cancelled,
--   Flake_Rate = Total_Flakes / Total, 0 when Total is 0.
-- Any other status (Confirmed, Left Msg, a committee's own...) counts in none of the columns.
-- Status names are VAN's own spelling, compared after TRIM only: UPPER() would be a per-row
-- Python function in the emulator (about 30 s on a million rows instead of under one).
-- Emulator-safe constructs only: no EXTRACT(DAYOFWEEK), no ISOWEEK, no at sign in comments.
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
  -- One region per location even if the mapping lists a location twice.
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
    DATE(e.starts_at) AS event_date,
    DATE_TRUNC(DATE(e.starts_at), WEEK(SATURDAY)) AS week_start,
    ls.status
  FROM `{dataset}.event_signups` AS s
  JOIN `{dataset}.events` AS e ON e.event_id = s.event_id
  LEFT JOIN latest_status AS ls ON ls.event_signup_id = s.event_signup_id
  LEFT JOIN region_map AS m ON m.location_id = e.location_id
  WHERE e.event_type_id IN UNNEST(@event_type_ids)
    AND DATE(e.starts_at) >= DATE_TRUNC(@start_date, WEEK(SATURDAY))
    AND DATE(e.starts_at) < DATE_ADD(DATE_TRUNC(@as_of, WEEK(SATURDAY)), INTERVAL 7 DAY)
),
weekly AS (
  SELECT
    region,
    week_start,
    COUNTIF(status = 'Completed') AS completed,
    COUNTIF(status = 'No Show') AS no_show,
    COUNTIF(status = 'Cancelled') AS cancelled,
    COUNTIF(status = 'Declined') AS declined,
    COUNTIF(status = 'Scheduled' AND event_date >= @as_of) AS scheduled
  FROM signups
  GROUP BY region, week_start
)
SELECT
  w.region AS Region,
  COALESCE(o.organizers, '') AS Organizer,
  w.week_start AS Week_Start,
  DATE_ADD(w.week_start, INTERVAL 6 DAY) AS Week_End,
  w.week_start = DATE_TRUNC(@as_of, WEEK(SATURDAY)) AS Current_Week,
  w.completed AS Completed,
  w.no_show AS No_Show,
  w.cancelled AS Cancelled,
  w.declined AS Declined,
  w.scheduled AS Scheduled,
  w.completed + w.no_show + w.cancelled AS Total,
  w.no_show + w.cancelled AS Total_Flakes,
  COALESCE(SAFE_DIVIDE(w.no_show + w.cancelled, w.completed + w.no_show + w.cancelled), 0)
    AS Flake_Rate
FROM weekly AS w
LEFT JOIN region_organizers AS o ON o.region = w.region
ORDER BY Week_Start, Region
