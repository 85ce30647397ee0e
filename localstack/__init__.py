"""The local stack (ARCHITECTURE §5): infrastructure servers as managed child processes.

``localstack.processes`` runs and supervises processes; ``localstack.ports`` picks and
probes TCP ports; ``localstack.servers`` knows how to start MongoDB (SecantusDB), Temporal
and Kafka (Tansu) and where their data lives.
Nothing is re-exported here, so importing the package starts no heavy imports.
"""
