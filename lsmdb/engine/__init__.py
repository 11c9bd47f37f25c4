"""The relational storage engine (SPEC §6): catalog, transactions, DML, scans, recovery."""
