"""What callers of the sagas may know of them: workflow and update names, inputs, outputs
and constants, one module per workflow. Importing a contract imports no workflow code, no
activity, peer or persistence code: the API and the application layer start and ask runs
through these alone (tests/unit/architecture checks it)."""
