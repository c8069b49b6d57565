"""The reference central ingest: shared-subscription MQTT consumers writing to PostgreSQL.

``messages`` reads a device's topics into rows, ``schema`` applies the versioned SQL migrations,
``store`` writes a batch in one transaction (events once by ``event_id``, retained state newest
wins), ``consumer`` runs one consumer of a shared-subscription group and acknowledges each
message only after the transaction that stored it has committed.
"""
