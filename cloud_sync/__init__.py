"""MQTT sync with central: topics, wire payloads, signing, link, outbox, commands."""
