"""Key-space backends of the storage engine: one small protocol (keyspace.KeySpace), an LSM
adapter (the durable backend) and a memory-only backend."""
