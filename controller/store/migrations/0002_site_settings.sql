-- gymctl store, schema version 2: settings changed by staff at run time (the panel).
-- A row overrides the site config's value of the same dotted key (e.g.
-- 'store.trace_retention_days'); deleting the row goes back to the config. Who changed
-- what is in the audit log as well.

CREATE TABLE site_settings (
    key TEXT PRIMARY KEY,                   -- dotted config key, e.g. store.trace_retention_days
    value_json TEXT NOT NULL,
    updated REAL NOT NULL,
    updated_by TEXT
);
