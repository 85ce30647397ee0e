"""The FHIR R4 door (/fhir/R4): api/fhir/router.py lists its modules."""
