-- Version 2: a device's last event is read from the events, not stamped on the device row by
-- every batch (every consumer updating the same device rows serialised them: 3 consumers were
-- slower than 1). devices.last_seen now comes from status and birth (refreshed every minute).
CREATE INDEX events_device_time ON events (site, device, wall_time);

CREATE VIEW device_overview AS
SELECT d.site, d.device, d.online, d.boot_id, d.status_at, d.last_seen, d.birth_at,
       (SELECT max(e.wall_time) FROM events e
        WHERE e.site = d.site AND e.device = d.device) AS last_event_at,
       (SELECT count(*) FROM permit_state p
        WHERE p.site = d.site AND p.device = d.device AND p.status = 'active') AS active_permits,
       (SELECT COALESCE(jsonb_array_length(s.inside), 0) FROM presence_state s
        WHERE s.site = d.site AND s.device = d.device) AS people_inside
FROM devices d;
