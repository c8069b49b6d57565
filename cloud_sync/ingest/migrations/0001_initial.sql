-- zonegate central ingest, schema version 1.
-- Every event once (keyed by event_id), the current retained state per device, and the
-- views central's people read: open gas alarms with who was inside, devices offline,
-- certificates expiring. Applied in one transaction by cloud_sync.ingest.schema.migrate.

CREATE TABLE devices (
    site        text        NOT NULL,
    device      text        NOT NULL,
    online      boolean,
    boot_id     text,
    connection  integer     NOT NULL DEFAULT 0,
    status_at   timestamptz,
    last_seen   timestamptz NOT NULL,
    birth       jsonb,
    birth_at    timestamptz,
    PRIMARY KEY (site, device)
);

CREATE TABLE events (
    event_id     uuid        PRIMARY KEY,
    site         text        NOT NULL,
    device       text        NOT NULL,
    boot_id      text        NOT NULL,
    seq          bigint      NOT NULL,
    kind         text        NOT NULL,
    type         text        NOT NULL,
    lane         text        NOT NULL,
    wall_time    timestamptz NOT NULL,
    wall_trusted boolean     NOT NULL,
    historical   boolean     NOT NULL,
    payload      jsonb       NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX events_device_boot_seq ON events (site, device, boot_id, seq);
CREATE INDEX events_type_time ON events (type, wall_time);

CREATE TABLE permit_state (
    site       text        NOT NULL,
    device     text        NOT NULL,
    permit_id  text        NOT NULL,
    status     text        NOT NULL,
    permit     jsonb       NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (site, device, permit_id)
);

CREATE TABLE presence_state (
    site    text        NOT NULL,
    device  text        NOT NULL,
    inside  jsonb       NOT NULL,
    at      timestamptz NOT NULL,
    PRIMARY KEY (site, device)
);

-- Messages that arrived but could not be read: kept with the reason, never silently dropped.
CREATE TABLE rejected_messages (
    id           bigserial   PRIMARY KEY,
    topic        text        NOT NULL,
    reason       text        NOT NULL,
    payload      bytea       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Gaps in (device, boot, seq) that outlived the grace period, and what was done about them.
CREATE TABLE replay_requests (
    site          text        NOT NULL,
    device        text        NOT NULL,
    boot_id       text        NOT NULL,
    from_seq      bigint      NOT NULL,
    to_seq        bigint      NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (site, device, boot_id, from_seq)
);

-- The rosters central holds (the same documents it signs as roster_update), one row per
-- certificate: the source of the 30 / 15-day expiry notices.
CREATE TABLE roster_certificates (
    worker_id       text NOT NULL,
    worker_name     text NOT NULL,
    certificate_no  text NOT NULL,
    category        text NOT NULL,
    issued          date,
    expires         date NOT NULL,
    review_due      date,
    source          text NOT NULL,
    loaded_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (worker_id, certificate_no)
);

CREATE VIEW gas_alarms AS
SELECT e.event_id, e.site, e.device, e.wall_time, e.payload,
       COALESCE(e.payload -> 'inside', '[]'::jsonb) AS inside,
       EXISTS (
           SELECT 1 FROM events a
           WHERE a.site = e.site AND a.device = e.device
             AND a.type = 'gas_alarm_acknowledged' AND a.wall_time >= e.wall_time
       ) AS acknowledged
FROM events e
WHERE e.type = 'gas_alarm';

CREATE VIEW devices_offline AS
SELECT site, device, boot_id, status_at, last_seen FROM devices WHERE online IS NOT TRUE;

-- GB 30871 / seed HR notice: warn 30 and 15 days before a special-operation certificate
-- expires (and once it has). Computed against the database's current date.
CREATE VIEW certificate_expiry_warnings AS
SELECT worker_id, worker_name, certificate_no, category, expires,
       (expires - CURRENT_DATE) AS days_left,
       CASE
           WHEN expires < CURRENT_DATE THEN 'expired'
           WHEN expires - CURRENT_DATE <= 15 THEN 'warn_15'
           ELSE 'warn_30'
       END AS level
FROM roster_certificates
WHERE expires - CURRENT_DATE <= 30;
