"""The adapter to Kafka: the outbox relay, the producer's settings and the event contract."""
