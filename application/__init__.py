"""The application layer: the use cases behind every door (REST, GraphQL, FHIR), with
their command models validated once (``commands``, ``identifiers``), the one permission
matrix (``permissions``), and the ports through which they reach the outside (``ports``).
Nothing here speaks HTTP or imports an adapter."""
