-- gymctl store, schema version 1. Documented in docs/store.md.
-- Times are UNIX seconds (REAL, UTC); days are ISO dates (TEXT); *_json columns hold JSON.
-- Every table that holds an athlete's data has an `athlete_id` column: export and erase
-- find those tables from the schema itself, so a new table with that column is covered.
-- Event tables have no foreign keys on purpose: a rep is stored even if its session row is
-- late or its athlete is unknown to this site; durability first.

CREATE TABLE athletes (
    id TEXT PRIMARY KEY,                    -- pseudonymous id: random, used on MQTT and in logs
    display_name TEXT NOT NULL,
    external_ref TEXT,                      -- e.g. the member number of the gym's system
    sex TEXT CHECK (sex IN ('female', 'male', 'other')),
    birth_year INTEGER,
    body_mass_kg REAL,
    notes TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL
);

CREATE TABLE staff_users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'coach', 'front_desk')),
    password_hash TEXT NOT NULL,            -- argon2/bcrypt encoded hash, never the password
    created REAL NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    last_login REAL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,        -- SHA-256 of the token; the token is shown once
    created REAL NOT NULL,
    expires REAL,
    last_used REAL,
    revoked REAL
);

CREATE TABLE web_sessions (
    id INTEGER PRIMARY KEY,
    session_hash TEXT NOT NULL UNIQUE,      -- SHA-256 of the cookie value
    user_id INTEGER NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    csrf_hash TEXT,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    last_seen REAL NOT NULL,
    user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX web_sessions_expires ON web_sessions (expires);

CREATE TABLE stations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'offline',
    updated REAL NOT NULL
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    station_id TEXT,
    role TEXT NOT NULL,                     -- rack, bike, hr_strap, power_meter, band
    transport TEXT NOT NULL,                -- modbus_tcp, modbus_rtu, ble
    address TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    capabilities_json TEXT NOT NULL DEFAULT '{}',
    link TEXT NOT NULL DEFAULT 'disconnected',
    last_seen REAL
);

CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    body_json TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    created_by TEXT,
    archived INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE plan_assignments (
    id INTEGER PRIMARY KEY,
    athlete_id TEXT NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    plan_id TEXT NOT NULL REFERENCES plans (id),
    start_day TEXT NOT NULL,
    end_day TEXT,
    assigned_by TEXT,
    created REAL NOT NULL
);
CREATE INDEX plan_assignments_athlete ON plan_assignments (athlete_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    athlete_id TEXT NOT NULL,
    station_id TEXT,
    plan_id TEXT,
    started REAL NOT NULL,
    ended REAL,
    status TEXT NOT NULL DEFAULT 'running',  -- running, done, stopped, fault
    summary_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX sessions_athlete ON sessions (athlete_id, started);

CREATE TABLE sets (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    athlete_id TEXT NOT NULL,
    station_id TEXT,
    exercise TEXT NOT NULL,
    set_index INTEGER NOT NULL,
    load REAL NOT NULL,
    unit TEXT NOT NULL,
    target_load REAL,
    target_reps INTEGER,
    reps INTEGER NOT NULL,
    stop TEXT NOT NULL,                     -- velocity_loss, rep_target, athlete, staff, ...
    velocity_loss_pct REAL,
    best_velocity_ms REAL,
    mean_velocity_ms REAL,
    started REAL NOT NULL,
    ended REAL NOT NULL
);
CREATE INDEX sets_session ON sets (session_id, set_index);
CREATE INDEX sets_athlete ON sets (athlete_id, ended);

CREATE TABLE reps (
    id INTEGER PRIMARY KEY,
    set_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    athlete_id TEXT NOT NULL,
    station_id TEXT,
    exercise TEXT NOT NULL,
    set_index INTEGER NOT NULL,
    rep_index INTEGER NOT NULL,
    load REAL NOT NULL,
    unit TEXT NOT NULL,
    mean_velocity_ms REAL NOT NULL,
    mean_propulsive_velocity_ms REAL NOT NULL,
    peak_velocity_ms REAL NOT NULL,
    rom_m REAL NOT NULL,
    concentric_s REAL NOT NULL,
    eccentric_s REAL NOT NULL,
    time_to_peak_s REAL NOT NULL,
    mean_power_w REAL,
    peak_power_w REAL,
    start_s REAL NOT NULL,                  -- stream time (device clock) of the rep's start
    end_s REAL NOT NULL,
    velocity_loss_pct REAL,
    ts REAL NOT NULL,
    UNIQUE (set_id, rep_index)              -- a replayed rep event is ignored, not doubled
);
CREATE INDEX reps_athlete ON reps (athlete_id, ts);
CREATE INDEX reps_session ON reps (session_id);

CREATE TABLE traces (
    id INTEGER PRIMARY KEY,
    athlete_id TEXT,
    session_id TEXT,
    set_id TEXT,
    device_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    t0 REAL NOT NULL,                       -- device time of the first sample, s
    period REAL NOT NULL,                   -- s between samples (0 for event series)
    n_samples INTEGER NOT NULL,
    width INTEGER NOT NULL DEFAULT 1,       -- values per sample (6 for IMU)
    dtype TEXT NOT NULL,                    -- numpy dtype of the decoded array, e.g. '<f4'
    codec TEXT NOT NULL,                    -- 'zlib'
    data BLOB NOT NULL,
    ts REAL NOT NULL                        -- when recorded; retention counts from here
);
CREATE INDEX traces_ts ON traces (ts);
CREATE INDEX traces_set ON traces (set_id);
CREATE INDEX traces_athlete ON traces (athlete_id);

CREATE TABLE readiness_inputs (
    id INTEGER PRIMARY KEY,
    athlete_id TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,                     -- ln_rmssd, resting_hr, sleep_h, soreness, ...
    value REAL NOT NULL,
    unit TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    ts REAL NOT NULL
);
CREATE INDEX readiness_inputs_athlete ON readiness_inputs (athlete_id, day);
CREATE INDEX readiness_inputs_ts ON readiness_inputs (ts);

CREATE TABLE readiness_scores (
    id INTEGER PRIMARY KEY,
    athlete_id TEXT NOT NULL,
    day TEXT NOT NULL,
    score REAL NOT NULL,
    components_json TEXT NOT NULL DEFAULT '{}',
    ts REAL NOT NULL
);
CREATE INDEX readiness_scores_athlete ON readiness_scores (athlete_id, day);

CREATE TABLE lv_points (
    id INTEGER PRIMARY KEY,
    athlete_id TEXT NOT NULL,
    exercise TEXT NOT NULL,
    load REAL NOT NULL,
    velocity_ms REAL NOT NULL,
    session_id TEXT,
    set_id TEXT,
    ts REAL NOT NULL
);
CREATE INDEX lv_points_athlete ON lv_points (athlete_id, exercise, ts);

CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    station_id TEXT,
    athlete_id TEXT,
    session_id TEXT,
    set_id TEXT,
    kind TEXT NOT NULL,                     -- plans.decisions.DecisionKind
    subject TEXT NOT NULL,
    before_json TEXT NOT NULL,
    after_json TEXT NOT NULL,
    rule TEXT NOT NULL,
    reason TEXT NOT NULL,
    inputs_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX decisions_athlete ON decisions (athlete_id, ts);
CREATE INDEX decisions_station ON decisions (station_id, ts);

CREATE TABLE commands (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    station_id TEXT,
    athlete_id TEXT,
    source TEXT NOT NULL,                   -- plan, autoregulation, staff, mqtt, device, ...
    verb TEXT NOT NULL,
    outcome TEXT NOT NULL,                  -- applied, clamped, ramping, announced, refused, failed
    reason TEXT NOT NULL,
    requested REAL,
    target REAL,
    issued_by TEXT,
    params_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX commands_station ON commands (station_id, ts);

CREATE TABLE station_events (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    station_id TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    reason TEXT NOT NULL,
    athlete_id TEXT,
    session_id TEXT
);
CREATE INDEX station_events_station ON station_events (station_id, ts);

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    station_id TEXT,
    athlete_id TEXT,
    severity TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    cleared INTEGER NOT NULL DEFAULT 0,
    acknowledged_by TEXT,
    acknowledged_at REAL
);
CREATE INDEX alerts_ts ON alerts (ts);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,                    -- staff username, or 'system'
    action TEXT NOT NULL,                   -- e.g. 'athlete.create', 'station.estop', 'user.add'
    target_type TEXT,
    target_id TEXT,
    athlete_id TEXT,                        -- when the action concerns an athlete
    detail_json TEXT NOT NULL DEFAULT '{}',
    ip TEXT
);
CREATE INDEX audit_log_ts ON audit_log (ts);
