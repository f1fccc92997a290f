-- The volunteer tracker (PostgreSQL). Applied by shift_reset's first task on every run:
-- every statement is idempotent (IF NOT EXISTS), nothing is ever dropped or recreated.
--
-- Daily tables (what organizers work in during the day): shift, canvass_group, note.
-- Reference tables (kept across days): volunteer, location.
-- Staging: sync_shift (VAN sign-ups per day, replaced day by day on each pull).
-- History: backup_shift, backup_canvass_group, backup_note, keyed by the day a row belongs to
-- plus its id, so backing up the same day again adds nothing.
-- Run log: shift_reset_log (counts of each run; no personal data).

CREATE TABLE IF NOT EXISTS location (
    location_id   bigint PRIMARY KEY,             -- VAN locationId
    name          text,
    region        text,                           -- from VAN (the event's district field)
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS volunteer (
    van_id                      bigint PRIMARY KEY,
    first_name                  text,
    last_name                   text,
    next_shift_day              date,             -- first active shift after the tracker's day
    next_shift_start            timestamptz,
    next_shift_confirmed        boolean,
    next_shift_event_signup_id  bigint,
    updated_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS sync_shift (
    shift_day         date        NOT NULL,       -- local date of start_time (campaign zone)
    event_signup_id   bigint      NOT NULL,
    van_id            bigint      NOT NULL,
    first_name        text,
    last_name         text,
    event_id          bigint      NOT NULL,
    event_name        text,
    event_type_id     bigint,
    event_type        text,
    event_shift_id    bigint,
    role_name         text,
    status_id         integer,
    status_name       text,                       -- as VAN sent it, known or not
    location_id       bigint      NOT NULL,
    location_name     text,
    region            text,
    start_time        timestamptz NOT NULL,
    end_time          timestamptz,
    pulled_at         timestamptz NOT NULL,
    PRIMARY KEY (shift_day, event_signup_id)
);
CREATE INDEX IF NOT EXISTS sync_shift_van_start ON sync_shift (van_id, start_time);

CREATE TABLE IF NOT EXISTS shift (
    shift_day           date        NOT NULL,
    event_signup_id     bigint      NOT NULL,
    van_id              bigint      NOT NULL,
    event_id            bigint,
    event_name          text,
    event_type          text,
    event_shift_id      bigint,
    role_name           text,
    status_name         text        NOT NULL,
    location_id         bigint,
    region              text,
    start_time          timestamptz NOT NULL,
    end_time            timestamptz,
    -- the organizers' own columns: same-day confirms and the flake chase
    same_day_confirmed  boolean     NOT NULL DEFAULT false,
    flake_chase         text,
    checked_in_at       timestamptz,
    loaded_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shift_day, event_signup_id)
);
CREATE INDEX IF NOT EXISTS shift_van ON shift (van_id);

CREATE TABLE IF NOT EXISTS canvass_group (
    canvass_group_id  bigserial   PRIMARY KEY,
    shift_day         date        NOT NULL,
    group_name        text        NOT NULL,       -- one row per canvasser in the group
    van_id            bigint      NOT NULL,
    location_id       bigint,
    turf              text,
    departed_at       timestamptz,
    returned_at       timestamptz,
    doors_knocked     integer     NOT NULL DEFAULT 0 CHECK (doors_knocked >= 0)
);
CREATE INDEX IF NOT EXISTS canvass_group_day ON canvass_group (shift_day);

CREATE TABLE IF NOT EXISTS note (
    note_id     bigserial   PRIMARY KEY,
    shift_day   date        NOT NULL,
    van_id      bigint,
    author      text,
    body        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS note_day ON note (shift_day);

CREATE TABLE IF NOT EXISTS backup_shift (
    shift_day           date        NOT NULL,
    event_signup_id     bigint      NOT NULL,
    van_id              bigint      NOT NULL,
    event_id            bigint,
    event_name          text,
    event_type          text,
    event_shift_id      bigint,
    role_name           text,
    status_name         text        NOT NULL,
    location_id         bigint,
    region              text,
    start_time          timestamptz NOT NULL,
    end_time            timestamptz,
    same_day_confirmed  boolean     NOT NULL,
    flake_chase         text,
    checked_in_at       timestamptz,
    loaded_at           timestamptz NOT NULL,
    backed_up_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shift_day, event_signup_id)
);

CREATE TABLE IF NOT EXISTS backup_canvass_group (
    shift_day         date        NOT NULL,
    canvass_group_id  bigint      NOT NULL,
    group_name        text        NOT NULL,
    van_id            bigint      NOT NULL,
    location_id       bigint,
    turf              text,
    departed_at       timestamptz,
    returned_at       timestamptz,
    doors_knocked     integer     NOT NULL,
    backed_up_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shift_day, canvass_group_id)
);

CREATE TABLE IF NOT EXISTS backup_note (
    shift_day     date        NOT NULL,
    note_id       bigint      NOT NULL,
    van_id        bigint,
    author        text,
    body          text        NOT NULL,
    created_at    timestamptz NOT NULL,
    backed_up_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shift_day, note_id)
);

CREATE TABLE IF NOT EXISTS shift_reset_log (
    run_id       text        NOT NULL,
    day          date        NOT NULL,
    dry_run      boolean     NOT NULL,
    counts       jsonb       NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, day)
);
