"""Index kinds over the engine's key space (B-tree now; GIN, adjacency, HNSW, IVF plug in)."""
